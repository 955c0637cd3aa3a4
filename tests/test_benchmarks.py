"""Benchmarks (pytest-benchmark). Run them with:

    pytest tests/test_benchmarks.py --benchmark-enable --benchmark-group-by=group

In a normal test run they are disabled by the project's addopts and each body runs once, as a
plain test that the code path works. The comparison is within one run: the harness's encoder
(no gradient tracking, length-sorted batches with dynamic padding) against a plain loop that pads
every batch to the maximum length, same model, texts, batch size and max length; fine-tuning
with ``group_by_length`` against the default shuffled batches (SST-2 training sentences, batch 16);
and a token task's training steps as micro-batches of similar lengths against one pass per batch
(PUD's sentences, Zhou's batch of 32).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.data.synthetic import generate_texts
from harness.models.encoders import EncoderSpec, encode, load_encoder

SHARED_SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2" / "test.jsonl"
SHARED_SST2_TRAIN = SHARED_SST2.with_name("train.jsonl")
SHARED_PUD = SHARED_SST2.parents[1] / "ud-english-pud" / "en_pud-ud-test.conllu"
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


FT_EXAMPLES, FT_BATCH, FT_MAX_LENGTH = 800, 16, 64  # Bogaert's batch; SST-2 sentences fit in 64


@pytest.fixture(scope="module")
def train_task(request):
    """SST-2's first training sentences (real lengths: about 23 tokens on average, up to 64), or
    generated reviews where ../shared is absent."""
    from harness.data import make_task

    n = FT_EXAMPLES if request.config.getoption("benchmark_enable") else 2 * FT_BATCH
    if SHARED_SST2_TRAIN.is_file():
        rows = [json.loads(line) for line in SHARED_SST2_TRAIN.read_text().splitlines()[:n]]
        texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    else:
        texts, labels, _ = generate_texts(n, 0.9, seed=0)
        labels = labels.tolist()
    return make_task("bench-sst2", {"train": (texts, labels), "test": (texts[:FT_BATCH], labels[:FT_BATCH])})


@pytest.mark.benchmark(group="fine-tune")
@pytest.mark.parametrize("grouped", [False, True], ids=["shuffled-batches", "group-by-length"])
def test_bench_fine_tune_group_by_length(benchmark, train_task, grouped):
    """One epoch of the harness's fine-tuning, a fresh encoder each round (loading not timed)."""
    from harness.training.protocols import FineTuneConfig, fine_tune

    config = FineTuneConfig(epochs=1, batch_size=FT_BATCH, max_length=FT_MAX_LENGTH, group_by_length=grouped)

    def fresh():
        return (load_encoder(EncoderSpec("offline:minilm-l6")),), {}

    seconds = []

    def run(enc):
        start = time.perf_counter()
        out = fine_tune(enc, train_task, config, seed=0)
        seconds.append(time.perf_counter() - start)
        return out

    result = benchmark.pedantic(run, setup=fresh, rounds=2, iterations=1)
    n = len(train_task["train"])
    benchmark.extra_info.update(examples=n, examples_per_s=n / float(np.median(seconds)))
    print(f"\nfine-tune {'group_by_length' if grouped else 'shuffled batches'}: {n} examples, "
          f"{n / float(np.median(seconds)):.1f} ex/s")
    assert len(result.losses) == -(-n // FT_BATCH) and np.isfinite(result.losses).all()


@pytest.fixture(scope="module")
def word_task(request, tmp_path_factory):
    """PUD's part-of-speech tags on 250 training sentences (the smoke fixture's split; real
    lengths: 26 sub-words on average, up to 67), or generated sentences where ../shared is absent;
    64 sentences where the benchmarks are disabled."""
    from tokendata import write_conllu

    from harness.data.tokens import load_conllu

    path = SHARED_PUD if SHARED_PUD.is_file() else write_conllu(tmp_path_factory.mktemp("pud") / "t.conllu", 1000)
    train = 0.25 if request.config.getoption("benchmark_enable") else 0.064
    return load_conllu(path, "pos", fractions=(train, 0.9 - train, 0.1))


@pytest.mark.benchmark(group="token fine-tune")
@pytest.mark.parametrize("cut", [False, True], ids=["one-pass-per-batch", "length-parts"])
def test_bench_token_fine_tune_length_parts(benchmark, word_task, monkeypatch, cut):
    """One epoch of Zhou's protocol on words, each batch in one pass or in micro-batches of similar
    lengths (``harness.training.tokens.length_parts``), a fresh encoder each round (loading not timed)."""
    from harness.training import tokens
    from harness.training.protocols import FineTuneConfig

    if not cut:
        monkeypatch.delitem(tokens.PART_COST, "cpu")
    config = FineTuneConfig.preset("zhou", epochs=1)
    seconds = []

    def run(enc):
        start = time.perf_counter()
        out = tokens.fine_tune_tokens(enc, word_task, config, seed=0)
        seconds.append(time.perf_counter() - start)
        return out

    result = benchmark.pedantic(run, setup=lambda: ((load_encoder(EncoderSpec("offline:minilm-l6")),), {}),
                                rounds=2, iterations=1)
    n = len(word_task["train"].sentences)
    benchmark.extra_info.update(sentences=n, sentences_per_s=n / float(np.median(seconds)))
    print(f"\ntoken fine-tune, {'length parts' if cut else 'one pass per batch'}: {n} sentences, "
          f"{n / float(np.median(seconds)):.1f} sentences/s")
    assert len(result.losses) == -(-n // config.batch_size) and np.isfinite(result.losses).all()
