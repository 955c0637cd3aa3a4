"""Benchmarks (pytest-benchmark). Run them with:

    pytest tests/test_benchmarks.py --benchmark-enable --benchmark-group-by=group

In a normal test run they are disabled by the project's addopts and each body runs once, as a
plain test that the code path works. The comparison is within one run: the harness's encoder
(no gradient tracking, length-sorted batches with dynamic padding) against a plain loop that pads
every batch to the maximum length, same model, texts, batch size and max length.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.encoders import EncoderSpec, encode, load_encoder
from harness.synthetic import generate_texts

SHARED_SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "test.jsonl"
MAX_LENGTH, BATCH, N_TEXTS = 128, 64, 512


@pytest.fixture(scope="module")
def texts(request):
    # Benchmarks disabled (a plain test run): each body runs once, on a quarter of the texts.
    n = N_TEXTS if request.config.getoption("benchmark_enable") else N_TEXTS // 4
    if SHARED_SST2.is_file():  # real sentence lengths
        lines = SHARED_SST2.read_text().splitlines()[:n]
        return [json.loads(line)["text"] for line in lines]
    return generate_texts(n, 0.9, seed=0)[0]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(EncoderSpec("offline:minilm-l6"))


def plain_loop(model, tokenizer, texts):
    """The baseline: input order, every batch padded to max_length, autograd bookkeeping on."""
    out = []
    for start in range(0, len(texts), BATCH):
        batch = tokenizer(texts[start : start + BATCH], padding="max_length", truncation=True,
                          max_length=MAX_LENGTH, return_tensors="pt")
        out.append(model(**batch).last_hidden_state[:, 0].detach().numpy())
    return np.concatenate(out)


@pytest.mark.benchmark(group="encode")
def test_bench_encode_plain_padded_loop(benchmark, encoder, texts):
    result = benchmark.pedantic(plain_loop, args=(encoder.model, encoder.tokenizer, texts),
                                rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["texts"] = len(texts)
    assert result.shape == (len(texts), 384)


@pytest.mark.benchmark(group="encode")
def test_bench_encode_harness(benchmark, encoder, texts):
    def run():
        return encode(encoder.model, encoder.tokenizer, texts, layers=(-1,), pooling="first",
                      max_length=MAX_LENGTH, batch_size=BATCH)[6]

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["texts"] = len(texts)
    with torch.no_grad():  # same numbers as the baseline (checked on a slice: the loop is slow)
        np.testing.assert_allclose(result[:BATCH], plain_loop(encoder.model, encoder.tokenizer, texts[:BATCH]),
                                   rtol=1e-3, atol=1e-3)
