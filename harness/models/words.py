"""A token task's items as vectors: each word's vector in its sentence (the average of its
sub-word vectors, Zhou and Srikumar's choice, or its first sub-word's) and a (head, dependent)
pair as the two words' vectors concatenated (:mod:`harness.data.tokens` reads the tasks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data.tokens import WORD_POOLINGS, TokenSplit
from ..errors import ConfigError, DataError


def encode_words(model: torch.nn.Module, tokenizer, sentences: Sequence[Sequence[str]], *, layers: Sequence[int] = (-1,),
                 pooling: str = "mean", max_length: int = 512, batch_size: int = 32) -> dict[int, list[np.ndarray]]:
    """Each word's vector in its sentence, ``{layer: [(n_words, dim) per sentence]}``: the average
    of the word's sub-word vectors (``pooling="mean"``, Zhou and Srikumar's choice) or its first
    sub-word's. Sentences go through the encoder in length-sorted batches, each padded to its own
    longest; a sentence longer than ``max_length`` sub-words is refused (its last words would have
    no vector), naming it. Out of accelerator memory, the batch is halved (as ``encode`` does)."""
    from .encoders import autocast_for, in_batches, resolve_layers

    if pooling not in WORD_POOLINGS:
        raise ConfigError(f"word pooling must be one of {list(WORD_POOLINGS)}, got {pooling!r}")
    wanted = resolve_layers(layers, int(model.config.num_hidden_layers))
    device = next(model.parameters()).device
    encoded = [tokenizer(list(words), is_split_into_words=True, truncation=False) for words in sentences]
    for i, enc in enumerate(encoded):
        if len(enc["input_ids"]) > max_length:
            raise ConfigError(f"sentence {i} ({' '.join(sentences[i])[:60]}...) has {len(enc['input_ids'])} sub-words, "
                              f"more than max_length = {max_length}: raise max_length")
        if set(range(len(sentences[i]))) - {w for w in enc.word_ids() if w is not None}:
            raise DataError(f"sentence {i}: a word became no sub-word at all in the tokenizer "
                            f"({[w for k, w in enumerate(sentences[i]) if k not in set(enc.word_ids())]})")
    out: dict[int, list[np.ndarray | None]] = {layer: [None] * len(sentences) for layer in wanted}
    order = np.argsort([-len(e["input_ids"]) for e in encoded], kind="stable")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()

    def step(batch: np.ndarray, start: int) -> None:
        width = max(len(encoded[i]["input_ids"]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            n = len(encoded[i]["input_ids"])
            ids[row, :n] = torch.tensor(encoded[i]["input_ids"])
            mask[row, :n] = 1
        hidden = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True).hidden_states
        for row, i in enumerate(batch):
            word_ids = np.array([-1 if w is None else w for w in encoded[i].word_ids()])
            for layer in wanted:
                h = hidden[layer][row, : len(word_ids)].float().cpu().numpy()
                out[layer][i] = _pool_words(h, word_ids, len(sentences[i]), pooling)

    try:
        with torch.inference_mode(), autocast_for(device):
            in_batches(order, batch_size, device, "encode_words", step)
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def _pool_words(hidden: np.ndarray, word_ids: np.ndarray, n_words: int, pooling: str) -> np.ndarray:
    """(n_words, dim) from one sentence's sub-word rows: each word's mean or first sub-word."""
    keep = word_ids >= 0
    if pooling == "first":
        first = np.full(n_words, -1)
        for pos in np.flatnonzero(keep)[::-1]:
            first[word_ids[pos]] = pos
        return hidden[first]
    sums = np.zeros((n_words, hidden.shape[1]), dtype=np.float64)
    np.add.at(sums, word_ids[keep], hidden[keep])
    counts = np.bincount(word_ids[keep], minlength=n_words)[:, None]
    return (sums / counts).astype(np.float32)


def item_vectors(words: Sequence[np.ndarray], split: TokenSplit, kind: str) -> np.ndarray:
    """The representation of every item of ``split``: its word's vector, or for a pair the
    concatenation of the head's and the dependent's (``(n, 2 * dim)``)."""
    s, w, h = split.items[:, 0], split.items[:, 1], split.items[:, 2]
    dep = np.stack([words[i][j] for i, j in zip(s, w, strict=True)])
    if kind == "word":
        return dep
    head = np.stack([words[i][j] for i, j in zip(s, h, strict=True)])
    return np.concatenate([head, dep], axis=1)
