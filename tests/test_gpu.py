"""Correctness of the GPU path (skips without a CUDA GPU; run on a lent GPU machine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.data import make_task
from harness.data.synthetic import generate_texts
from harness.models.encoders import encode
from harness.pipeline.throughput import benchmark_tokenizer, shaped_encoder
from harness.training.protocols import FineTuneConfig, fine_tune

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def tokenizer():
    return benchmark_tokenizer()


def relative_error(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_bf16_encoding_matches_float32_on_the_cpu(tokenizer):
    """The GPU's bf16 copy gives the CPU's float32 embeddings within bf16 rounding (a relative
    error of a few 1e-3 per layer), for every layer and both poolings, rows in input order."""
    torch.manual_seed(0)
    enc = shaped_encoder("all-MiniLM-L6-v2", tokenizer, "cpu")
    texts = generate_texts(96, 0.9, seed=0)[0]
    ref = {p: encode(enc.model, tokenizer, texts, layers=(1, 3, 6), pooling=p, batch_size=7) for p in ("first", "mean")}
    enc.model.to("cuda")
    for pooling, want in ref.items():
        got = encode(enc.model, tokenizer, texts, layers=(1, 3, 6), pooling=pooling, batch_size=32)
        for layer in want:
            err = relative_error(got[layer], want[layer])
            assert err < 2e-2, (pooling, layer, err)
    assert next(enc.model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_gpu_fine_tuning_follows_the_cpu(tokenizer):
    """Dropout off, same seed and data: the GPU's bf16-autocast steps give the CPU's float32
    losses within bf16 rounding, and the weights stay float32."""
    texts, labels, _ = generate_texts(96, 1.0, seed=1)
    task = make_task("gpu", {"train": (texts[:64], labels[:64].tolist()), "test": (texts[64:], labels[64:].tolist())})
    config = FineTuneConfig(epochs=1, lr=1e-4, batch_size=16, max_length=32, head_dropout=0.0)
    losses = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        enc = shaped_encoder("all-MiniLM-L6-v2", tokenizer, device)
        for module in enc.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        losses[device] = fine_tune(enc, task, config, seed=0).losses
        assert next(enc.model.parameters()).dtype == torch.float32
    assert len(losses["cuda"]) == 4
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=3e-2)


def test_a_head_trained_on_the_gpu_equals_the_cpu_one():
    """Same seed, same batches (the order is drawn on the CPU), float32 on both: the GPU's head
    gives the CPU's logits up to float rounding, and comes back on the CPU."""
    import time

    from harness.models.heads import HeadConfig, train_head

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 64)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.standard_normal(2000) > 0).astype(np.int64)
    config = HeadConfig(epochs=3)
    cpu = train_head(x, y, 2, config, seed=0).logits(x)
    gpu_head = train_head(x, y, 2, config, seed=0, device="cuda")
    assert next(gpu_head.module.parameters()).device.type == "cpu"
    np.testing.assert_allclose(gpu_head.logits(x), cpu, rtol=1e-3, atol=1e-3)
    assert ((cpu.argmax(1) == y).mean()) > 0.85
    # Throughput of Bogaert's frozen protocol's steps (batch 32, 768 wide), for docs/gpu.md's estimate
    big = rng.standard_normal((32_000, 768)).astype(np.float32)
    start = time.perf_counter()
    train_head(big, (big[:, 0] > 0).astype(np.int64), 2, HeadConfig(epochs=1), seed=0, device="cuda")
    print(f"\nhead on the GPU: {1000 / (time.perf_counter() - start):.0f} steps/s (batch 32, 768 wide)")


@pytest.mark.parametrize("every", [1, 50])
def test_gpu_fine_tuning_that_diverges_is_refused(tokenizer, monkeypatch, every):
    """On the GPU the losses stay on the device and each window's flag is read one window later
    (every = 1: the lagged reads; 50: only the last step's check); either way a diverged run
    stops, naming its first bad step (the first step's loss is finite, the second is not), the
    seed and the learning rate."""
    from harness.errors import TrainingDiverged
    from harness.models.heads import HeadConfig, train_head
    from harness.training import protocols

    monkeypatch.setattr(protocols, "DIVERGENCE_CHECK_EVERY", every)
    texts, labels, _ = generate_texts(96, 1.0, seed=1)
    task = make_task("gpu", {"train": (texts[:64], labels[:64].tolist()), "test": (texts[64:], labels[64:].tolist())})
    enc = shaped_encoder("all-MiniLM-L6-v2", tokenizer, "cuda")
    with pytest.raises(TrainingDiverged, match=r"fine-tuning diverged: the loss became nan at step 2 of 4 \(seed 0"):
        fine_tune(enc, task, FineTuneConfig(epochs=1, lr=float("inf"), batch_size=16, max_length=32), seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((256, 16)).astype(np.float32), rng.integers(0, 2, 256)
    with pytest.raises(TrainingDiverged, match="the frozen head's training diverged"):
        train_head(x, y, 2, HeadConfig(kind="mlp", epochs=2, lr=float("inf")), seed=0, device="cuda")
