"""The benchmark texts of harness/pipeline/throughput.py: exact token counts, and padding like real text."""

from __future__ import annotations

import numpy as np

from harness.pipeline.throughput import (
    SST2_LOG_LENGTH,
    benchmark_tokenizer,
    full_length_texts,
    varied_length_texts,
)
from harness.training.protocols import length_grouped


def padded_positions(lengths: np.ndarray, order: np.ndarray, batch: int) -> int:
    return sum(int(lengths[order[i : i + batch]].max()) * len(order[i : i + batch]) for i in range(0, len(order), batch))


def test_varied_length_texts_follow_sst2_and_pad_like_it():
    tokenizer = benchmark_tokenizer()
    texts = varied_length_texts(tokenizer, 2000, 128, seed=3)
    assert texts == varied_length_texts(tokenizer, 2000, 128, seed=3)  # seeded
    lengths = np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]])
    assert lengths.min() >= 3 and lengths.max() <= 128
    # SST-2's training sentences: median 24 tokens, log-sd 0.50
    assert abs(np.median(lengths) - np.exp(SST2_LOG_LENGTH[0])) < 2.5
    assert abs(np.log(lengths).std() - SST2_LOG_LENGTH[1]) < 0.05
    # shuffled batches of 16 pad SST-2 to 1.89x its real tokens and length-grouped ones to 1.03x
    # (329,136 and 179,296 of 174,457 positions); these texts should too, roughly
    order = np.random.default_rng(0).permutation(len(lengths))
    shuffled = padded_positions(lengths, order, 16) / lengths.sum()
    grouped = padded_positions(lengths, length_grouped(order, lengths, 16), 16) / lengths.sum()
    assert 1.6 < shuffled < 2.3 and grouped < 1.1


def test_full_length_texts_fill_the_length():
    tokenizer = benchmark_tokenizer()
    texts = full_length_texts(tokenizer, 50, 40)
    assert {len(ids) for ids in tokenizer(texts, truncation=True, max_length=40)["input_ids"]} == {40}
