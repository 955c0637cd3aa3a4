"""GPU throughput benchmarks: fine-tuning and encoding in model FLOPs utilisation (MFU).

    pytest tests/test_bench_gpu.py --benchmark-enable --benchmark-json bench-gpu.json

They skip without a CUDA GPU. Each measures the harness's own code path (``fine_tune``,
``encode``) on a ``bert-base-uncased``-shaped encoder (random weights: throughput does not depend
on them; see :mod:`harness.pipeline.throughput`), on texts that all fill the maximum length, against a
plain Hugging Face-style loop with the same model, data and batch size (float32, default AdamW,
``padding="max_length"``, the loss read back every step). The card's bf16 rate is measured in the
same run; MFU, examples/s and tokens/s go into each benchmark's ``extra_info`` (and the JSON).
``docs/gpu-throughput.md`` keeps the figures of each version.

``test_bench_gpu_finetune_group_by_length`` fine-tunes on texts of varied lengths instead (SST-2's
length distribution, :func:`harness.pipeline.throughput.varied_length_texts`), with and without
``group_by_length``; its MFU counts the real tokens, not the padding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harness.data import make_task
from harness.models.encoders import encode
from harness.pipeline.throughput import (
    benchmark_tokenizer,
    full_length_texts,
    measured_bf16_tflops,
    model_flops,
    parameter_count,
    shaped_encoder,
    varied_length_texts,
)
from harness.training.protocols import FineTuneConfig, SequenceClassifier, fine_tune

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SHAPE, MAX_LENGTH = "bert-base-uncased", 128
TRAIN_EXAMPLES = 4096   # per round; batch 16 makes 256 optimizer steps
ENCODE_EXAMPLES = 16384
# (loop, batch size, max length): Bogaert's batch 16, larger batches, and Allocine's 512 tokens
FINETUNE_CASES = [(loop, batch, MAX_LENGTH) for loop in ("harness", "plain") for batch in (16, 64, 256)] + [
    ("harness", 16, 512)]


@pytest.fixture(scope="module")
def device():
    return torch.device("cuda")


@pytest.fixture(scope="module")
def peak_tflops(device):
    return measured_bf16_tflops(device)


@pytest.fixture(scope="module")
def tokenizer():
    return benchmark_tokenizer()


@pytest.fixture(scope="module")
def texts(tokenizer):
    return full_length_texts(tokenizer, max(TRAIN_EXAMPLES, ENCODE_EXAMPLES), MAX_LENGTH)


@pytest.fixture(scope="module")
def long_texts(tokenizer):
    return full_length_texts(tokenizer, TRAIN_EXAMPLES, 512)


def record(benchmark, *, examples: int, params: int, training: bool, peak: float,
           max_length: int = MAX_LENGTH, tokens: int | None = None) -> dict:
    seconds = benchmark.stats.stats.median
    tokens = examples * max_length if tokens is None else tokens
    info = {
        "examples_per_s": examples / seconds,
        "tokens_per_s": tokens / seconds,
        "model_tflops": model_flops(params, tokens, training) / seconds / 1e12,
        "measured_bf16_peak_tflops": peak,
        "parameters": params,
        "device_name": torch.cuda.get_device_name(),
        "max_length": max_length,
    }
    info["mfu"] = info["model_tflops"] / peak
    benchmark.extra_info.update(info)
    return info


def plain_fine_tune(encoder, texts, labels, batch_size, device):
    """A plain loop as a tutorial writes it: float32, per-tensor AdamW, max-length padding, and
    ``loss.item()`` after each step (a host synchronisation)."""
    classifier = SequenceClassifier(encoder.model, 2, 0.1).to(device).train()
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=2e-5, foreach=False)
    losses = []
    for start in range(0, len(texts), batch_size):
        batch = encoder.tokenizer(texts[start : start + batch_size], padding="max_length", truncation=True,
                                  max_length=MAX_LENGTH, return_tensors="pt").to(device)
        logits = classifier(batch["input_ids"], batch["attention_mask"])
        loss = nn.functional.cross_entropy(logits, torch.as_tensor(labels[start : start + batch_size], device=device))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(classifier.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.benchmark(group="gpu-finetune")
@pytest.mark.parametrize(("loop", "batch_size", "max_length"), FINETUNE_CASES,
                         ids=[f"{a}-bs{b}-len{c}" for a, b, c in FINETUNE_CASES])
def test_bench_gpu_finetune(benchmark, device, tokenizer, request, peak_tflops, loop, batch_size, max_length):
    texts = request.getfixturevalue("texts" if max_length == MAX_LENGTH else "long_texts")
    train_texts = texts[:TRAIN_EXAMPLES]
    labels = np.arange(TRAIN_EXAMPLES) % 2
    task = make_task("bench", {"train": (train_texts, labels.tolist()), "test": (train_texts[:64], labels[:64].tolist())})
    config = FineTuneConfig(epochs=1, batch_size=batch_size, max_length=max_length)
    encoder = shaped_encoder(SHAPE, tokenizer, device)
    params = parameter_count(encoder.model) + parameter_count(SequenceClassifier(encoder.model, 2, 0.1).head)

    def run():
        if loop == "harness":
            return fine_tune(encoder, task, config, seed=0).losses
        return plain_fine_tune(encoder, train_texts, labels, batch_size, device)

    losses = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    info = record(benchmark, examples=TRAIN_EXAMPLES, params=params, training=True, peak=peak_tflops,
                  max_length=max_length)
    print(f"\nfine-tune {loop} batch {batch_size} length {max_length}: {info['examples_per_s']:.0f} ex/s, "
          f"MFU {info['mfu']:.1%}")
    assert len(losses) == TRAIN_EXAMPLES // batch_size and np.isfinite(losses).all()


@pytest.fixture(scope="module")
def varied_texts(tokenizer):
    return varied_length_texts(tokenizer, TRAIN_EXAMPLES, MAX_LENGTH)


GROUPED_CASES = [(grouped, batch) for batch in (16, 64) for grouped in (False, True)]


@pytest.mark.benchmark(group="gpu-finetune-varied-lengths")
@pytest.mark.parametrize(("grouped", "batch_size"), GROUPED_CASES,
                         ids=[f"{'grouped' if g else 'shuffled'}-bs{b}" for g, b in GROUPED_CASES])
def test_bench_gpu_finetune_group_by_length(benchmark, device, tokenizer, varied_texts, peak_tflops, grouped,
                                            batch_size):
    labels = np.arange(TRAIN_EXAMPLES) % 2
    task = make_task("bench", {"train": (varied_texts, labels.tolist()),
                               "test": (varied_texts[:64], labels[:64].tolist())})
    config = FineTuneConfig(epochs=1, batch_size=batch_size, max_length=MAX_LENGTH, group_by_length=grouped)
    encoder = shaped_encoder(SHAPE, tokenizer, device)
    params = parameter_count(encoder.model) + parameter_count(SequenceClassifier(encoder.model, 2, 0.1).head)
    losses = benchmark.pedantic(lambda: fine_tune(encoder, task, config, seed=0).losses, rounds=3, iterations=1,
                                warmup_rounds=1)
    real = sum(len(ids) for ids in tokenizer(varied_texts, truncation=True, max_length=MAX_LENGTH)["input_ids"])
    info = record(benchmark, examples=TRAIN_EXAMPLES, params=params, training=True, peak=peak_tflops, tokens=real)
    print(f"\nfine-tune varied lengths, {'group_by_length' if grouped else 'shuffled batches'}, batch {batch_size}: "
          f"{info['examples_per_s']:.0f} ex/s, MFU on real tokens {info['mfu']:.1%}")
    assert len(losses) == TRAIN_EXAMPLES // batch_size and np.isfinite(losses).all()


def plain_encode(encoder, texts, batch_size, device):
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = encoder.tokenizer(texts[start : start + batch_size], padding="max_length", truncation=True,
                                      max_length=MAX_LENGTH, return_tensors="pt").to(device)
            out.append(encoder.model(**batch).last_hidden_state[:, 0].cpu().numpy())
    return np.concatenate(out)


ENCODE_CASES = [("harness", 256, MAX_LENGTH), ("plain", 256, MAX_LENGTH), ("harness", 256, 512)]


@pytest.mark.benchmark(group="gpu-encode")
@pytest.mark.parametrize(("loop", "batch_size", "max_length"), ENCODE_CASES,
                         ids=[f"{a}-bs{b}-len{c}" for a, b, c in ENCODE_CASES])
def test_bench_gpu_encode(benchmark, device, tokenizer, request, peak_tflops, loop, batch_size, max_length):
    texts = request.getfixturevalue("texts" if max_length == MAX_LENGTH else "long_texts")
    texts = texts[:ENCODE_EXAMPLES]
    encoder = shaped_encoder(SHAPE, tokenizer, device)
    params = parameter_count(encoder.model)

    def run():
        if loop == "harness":
            return encode(encoder.model, encoder.tokenizer, texts, layers=(-1,),
                          max_length=max_length, batch_size=batch_size)[12]
        return plain_encode(encoder, texts, batch_size, device)

    # The warm-up round tokenizes; the timed rounds find the tokens in encode's cache, as every
    # encoder after the first does in a run. Tokenizing on the CPU is measured in the notes.
    out = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    info = record(benchmark, examples=len(texts), params=params, training=False, peak=peak_tflops,
                  max_length=max_length)
    print(f"\nencode {loop} batch {batch_size} length {max_length}: {info['examples_per_s']:.0f} ex/s, "
          f"MFU {info['mfu']:.1%}")
    assert out.shape == (len(texts), 768) and np.isfinite(out).all()


CHECK_CASES = [("every 50 steps", 50), ("at the end only", 10**9)]


@pytest.mark.benchmark(group="gpu-finetune-divergence-check")
@pytest.mark.parametrize(("name", "every"), CHECK_CASES, ids=["check-every-50", "check-at-end"])
def test_bench_gpu_finetune_divergence_check(benchmark, device, tokenizer, texts, peak_tflops, monkeypatch, name,
                                             every):
    """What the finite-loss check costs at Bogaert's batch 16: one host synchronisation per 50
    steps against one at the end (the loop before the check, which read the losses once)."""
    from harness.training import protocols

    monkeypatch.setattr(protocols, "DIVERGENCE_CHECK_EVERY", every)
    train_texts = texts[:TRAIN_EXAMPLES]
    labels = np.arange(TRAIN_EXAMPLES) % 2
    task = make_task("bench", {"train": (train_texts, labels.tolist()), "test": (train_texts[:64], labels[:64].tolist())})
    config = FineTuneConfig(epochs=1, batch_size=16, max_length=MAX_LENGTH)
    encoder = shaped_encoder(SHAPE, tokenizer, device)
    params = parameter_count(encoder.model) + parameter_count(SequenceClassifier(encoder.model, 2, 0.1).head)
    losses = benchmark.pedantic(lambda: fine_tune(encoder, task, config, seed=0).losses, rounds=3, iterations=1,
                                warmup_rounds=1)
    info = record(benchmark, examples=TRAIN_EXAMPLES, params=params, training=True, peak=peak_tflops)
    print(f"\nfine-tune batch 16, finite-loss check {name}: {info['examples_per_s']:.0f} ex/s, MFU {info['mfu']:.1%}")
    assert len(losses) == TRAIN_EXAMPLES // 16 and np.isfinite(losses).all()
