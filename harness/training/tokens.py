"""Fine-tuning on token tasks: an encoder with a linear head on each item's representation
(:class:`TokenClassifier`), trained on sentences with all their labelled items
(:func:`fine_tune_tokens`), and the fine-tuned head's logits (:func:`token_logits`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.tokens import KINDS, TokenSplit, TokenTask
from ..errors import ConfigError, DataError
from ..models.words import encode_words, item_vectors


class TokenClassifier(torch.nn.Module):
    """An encoder with a linear head (after dropout, as Hugging Face's token classification) on
    each item's representation: its word's vector (the sub-words averaged, or the first) or the
    concatenation of the head's and the dependent's, from the last layer. The same representation
    as :func:`encode_words` and :func:`item_vectors`, computed differentiably."""

    def __init__(self, encoder: torch.nn.Module, num_labels: int, kind: str, pooling: str = "mean",
                 dropout: float = 0.1):
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"token task kind must be one of {list(KINDS)}, got {kind!r}")
        self.encoder, self.kind, self.pooling = encoder, kind, pooling
        width = int(encoder.config.hidden_size) * (2 if kind == "pair" else 1)
        self.head = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(width, num_labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_of: torch.Tensor,
                n_words: int, dep: torch.Tensor, head: torch.Tensor | None) -> torch.Tensor:
        """``word_of``: for each sub-word position of the flattened batch, its word's index among
        the batch's ``n_words`` words (-1: special tokens, padding, or not the first sub-word
        when pooling the first); ``dep`` / ``head``: each item's word indices."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1]).float()
        keep = word_of >= 0
        sums = torch.zeros(n_words, flat.shape[1], device=flat.device).index_add(0, word_of[keep], flat[keep])
        counts = torch.zeros(n_words, device=flat.device).index_add(0, word_of[keep], torch.ones_like(word_of[keep],
                                                                                                   dtype=torch.float))
        words = sums / counts.clamp(min=1)[:, None]
        item = words[dep] if head is None else torch.cat([words[head], words[dep]], dim=1)
        return self.head(item)


@dataclass(frozen=True)
class _Tokenized:
    ids: list[list[int]]
    word_ids: list[np.ndarray]  # per sub-word: its word's index in the sentence, -1 for special tokens


def _tokenize(tokenizer, sentences: Sequence[Sequence[str]], pooling: str) -> _Tokenized:
    ids, word_ids = [], []
    for words in sentences:
        enc = tokenizer(list(words), is_split_into_words=True, truncation=False)
        w = np.array([-1 if v is None else v for v in enc.word_ids()], dtype=np.int64)
        if pooling == "first":  # only each word's first sub-word counts
            seen = set()
            for pos, v in enumerate(w):
                if v >= 0 and v in seen:
                    w[pos] = -1
                seen.add(int(v))
        ids.append(enc["input_ids"])
        word_ids.append(w)
    return _Tokenized(ids, word_ids)


def _batch(tok: _Tokenized, split: TokenSplit, sentences: np.ndarray, items: np.ndarray, pad: int,
           device: torch.device):
    """Tensors for ``sentences`` (indices into the split) and the ``items`` that lie in them."""
    width = max(len(tok.ids[i]) for i in sentences)
    ids = torch.full((len(sentences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sentences), width), dtype=torch.long)
    word_of = np.full((len(sentences), width), -1, dtype=np.int64)
    offset = {}
    n_words = 0
    for row, i in enumerate(sentences):
        n = len(tok.ids[i])
        ids[row, :n] = torch.tensor(tok.ids[i])
        mask[row, :n] = 1
        w = tok.word_ids[i]
        word_of[row, :n] = np.where(w >= 0, w + n_words, -1)
        offset[int(i)] = n_words
        n_words += len(split.sentences[i])
    base = np.array([offset[int(s)] for s in split.items[items, 0]], dtype=np.int64)
    dep = torch.from_numpy(base + split.items[items, 1])
    head = torch.from_numpy(base + split.items[items, 2]) if split.items[items, 2].min() >= 0 else None
    return (ids.to(device), mask.to(device), torch.from_numpy(word_of.reshape(-1)).to(device), n_words,
            dep.to(device), None if head is None else head.to(device))


# What one more micro-batch costs, in padded sub-words' worth of time, on a CPU: its passes over
# every weight (the word embeddings' dense gradient, each weight gradient's sum) whatever its size.
# Measured on the 2-core development machine (MiniLM-L6, torch 2.13): a forward and backward pass
# takes about 30 ms plus 0.36 ms a sub-word, and STREUSLE's fine-tuning took the same time (30.5-32.5 s)
# for any cost from 80 to 400. Elsewhere (a GPU) a batch stays one pass: padding is cheap there
# next to a pass's kernel launches.
PART_COST = {"cpu": 160}


def length_parts(lengths: np.ndarray, part_cost: float | None) -> list[np.ndarray]:
    """A training batch of sentences cut into micro-batches of similar lengths, as positions into
    the batch (each part sorted by length, the parts shortest first).

    A micro-batch is padded to its own longest sentence, so cutting a sorted batch saves the padding
    that a random batch of whole sentences carries: on the smoke fixtures' treebanks a batch of 32
    is 1.9 (PUD) to 2.5 (STREUSLE) times its sub-words once padded. The cut minimises ``padded
    sub-words + part_cost x parts`` exactly (dynamic programming over the sorted lengths; O(n^2)
    for a batch of n). ``part_cost`` None: the batch as it is, one part.
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    if part_cost is None or n < 2:
        return [np.arange(n)]
    order = np.argsort(lengths, kind="stable")
    longest = lengths[order]
    best = np.zeros(n + 1)  # best[end]: the cheapest cut of the `end` shortest sentences
    cut = np.zeros(n + 1, dtype=np.int64)  # where its last part starts
    for end in range(1, n + 1):
        costs = best[:end] + longest[end - 1] * (end - np.arange(end)) + part_cost
        cut[end] = int(np.argmin(costs))
        best[end] = costs[cut[end]]
    parts, end = [], n
    while end:
        parts.append(order[cut[end]:end])
        end = int(cut[end])
    return parts[::-1]


def micro_parts(lengths: np.ndarray, device: torch.device, at_least: int) -> list[np.ndarray]:
    """A batch's micro-batches on ``device`` (positions into it): :func:`length_parts` at the
    device's :data:`PART_COST`, each part cut again into ``at_least`` pieces where memory ran out
    (``harness.training.protocols.MicroBatches``), so that no piece pads more than 1 / ``at_least``
    of what the whole batch would."""
    parts = length_parts(lengths, PART_COST.get(torch.device(device).type))
    return [piece for part in parts for piece in np.array_split(part, at_least) if len(piece)]


@dataclass
class TokenFineTuneResult:
    classifier: TokenClassifier
    losses: list[float]
    snapshots: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # step -> layer -> items x dim
    total_steps: int = 0


def fine_tune_tokens(encoder, task: TokenTask, config, seed: int, progress=None) -> TokenFineTuneResult:
    """Fine-tune ``encoder`` (changed in place) with a :class:`TokenClassifier` on the task's train
    items; a batch is ``config.batch_size`` sentences with all their labelled items (Zhou and
    Srikumar's protocol is the ``zhou`` preset of :class:`harness.training.protocols.FineTuneConfig`).
    Sentences are never truncated (``config.max_length`` applies to sentence tasks only).
    Snapshots: the item vectors of ``config.snapshot_split`` at ``config.snapshot_layers``.
    Deterministic for a given seed on the CPU; one process (no data parallelism)."""
    import math

    from ..runtime import seeded
    from .protocols import (
        MicroBatches,
        adamw,
        linear_schedule,
        optimizer_steps,
        prepare,
        snapshot_steps,
    )

    model, tokenizer = encoder.model, encoder.tokenizer
    device = next(model.parameters()).device
    train = task["train"]
    tok = _tokenize(tokenizer, train.sentences, task.pooling)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    limit = int(getattr(model.config, "max_position_embeddings", 512))
    too_long = [i for i, ids in enumerate(tok.ids) if len(ids) > limit]
    if too_long:
        i = too_long[0]
        raise DataError(f"{task.source}: train sentence {i} ({' '.join(train.sentences[i])[:60]}...) has "
                        f"{len(tok.ids[i])} sub-words, more than the encoder's {limit} positions")
    lengths = np.array([len(ids) for ids in tok.ids])
    items_of = [[] for _ in train.sentences]
    for row, s in enumerate(train.items[:, 0]):
        items_of[s].append(row)
    labels = torch.from_numpy(np.asarray(train.labels, dtype=np.int64))
    steps_per_epoch = math.ceil(len(train.sentences) / config.batch_size)
    total = steps_per_epoch * config.epochs
    snap_steps = snapshot_steps(config.snapshot_at, total)
    with seeded(seed, deterministic=device.type == "cpu"):
        classifier = TokenClassifier(model, task.num_labels, task.kind, task.pooling, config.head_dropout).to(device)
        prepare(model, config)
        optimizer = adamw([p for p in classifier.parameters() if p.requires_grad], config.lr, config.weight_decay)
        schedule = linear_schedule(optimizer, int(config.warmup_ratio * total), total)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = torch.nn.CrossEntropyLoss()
        result = TokenFineTuneResult(classifier, [], total_steps=total)

        def snapshot(step: int) -> None:
            if step in snap_steps:
                split = task[config.snapshot_split]
                words = encode_words(model, tokenizer, split.sentences, layers=config.snapshot_layers,
                                     pooling=task.pooling, max_length=limit)
                result.snapshots[step] = {layer: item_vectors(v, split, task.kind) for layer, v in words.items()}

        micro_batches = MicroBatches("fine_tune_tokens", "sentences", device)

        def train_step(sentences: np.ndarray, micro: int) -> torch.Tensor:
            """One optimizer step's gradient on the items of ``sentences``, accumulated over
            micro-batches of sentences of similar lengths (:func:`micro_parts`; at least ``micro``),
            each one's mean loss weighted by its share of the items: the whole batch's gradient."""
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            everything = sum(len(items_of[i]) for i in sentences)
            parts = [sentences[p] for p in micro_parts(lengths[sentences], device, micro)]
            for part in parts:
                items = np.concatenate([items_of[i] for i in part]).astype(np.int64)
                if len(parts) > 1 and len(items) == 0:  # (sentences without a labelled item add nothing)
                    continue
                logits = classifier(*_batch(tok, train, part, items, pad, device))
                loss = loss_fn(logits.float(), labels[items].to(device))
                if len(parts) > 1:
                    loss = loss * (len(items) / everything)
                loss.backward()
                step_loss += loss.detach()
            return step_loss

        def batches():  # one epoch's batches of sentence indices
            order = torch.randperm(len(train.sentences), generator=generator).numpy()
            return (order[start:start + config.batch_size] for start in range(0, len(order), config.batch_size))

        losses = optimizer_steps(config, classifier, optimizer, schedule, batches, micro_batches, train_step, total,
                                 seed, snap_steps, snapshot, progress)
        result.losses = torch.stack(losses).float().cpu().tolist() if losses else []
    return result


def token_logits(classifier: TokenClassifier, tokenizer, split: TokenSplit, kind: str, pooling: str,
                 batch_size: int = 32) -> np.ndarray:
    """The fine-tuned head's logits on every item of ``split`` (from :func:`encode_words`'s
    last layer, the representation the head was trained on)."""
    limit = int(getattr(classifier.encoder.config, "max_position_embeddings", 512))
    words = encode_words(classifier.encoder, tokenizer, split.sentences, layers=(-1,), pooling=pooling,
                         max_length=limit, batch_size=batch_size)
    (vectors,) = words.values()
    x = item_vectors(vectors, split, kind)
    head = classifier.head.eval()
    weight = next(head.parameters())
    with torch.inference_mode():
        return head(torch.from_numpy(x).to(weight.device)).float().cpu().numpy()
