"""Fine-tuning at Allocine's shape (batch 16, length 512), eager against ``torch.compile``, in one
process: ``python docs/gpu/compile_long.py`` (figures in docs/gpu-throughput.md)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from harness.data import make_task  # noqa: E402
from harness.pipeline.throughput import (
    benchmark_tokenizer,
    full_length_texts,
    measured_bf16_tflops,
    model_flops,
    parameter_count,
    shaped_encoder,
)
from harness.training.protocols import FineTuneConfig, SequenceClassifier, fine_tune  # noqa: E402

N, LENGTH, BATCH = 2048, 512, 16


def main() -> None:
    peak = measured_bf16_tflops(torch.device("cuda"))
    tok = benchmark_tokenizer()
    texts = full_length_texts(tok, N, LENGTH)
    labels = (np.arange(N) % 2).tolist()
    task = make_task("bench", {"train": (texts, labels), "test": (texts[:64], labels[:64])})
    config = FineTuneConfig(epochs=1, batch_size=BATCH, max_length=LENGTH)
    enc = shaped_encoder("bert-base-uncased", tok, "cuda")
    params = parameter_count(enc.model) + parameter_count(SequenceClassifier(enc.model, 2, 0.1).head)
    for compiled in (False, True):
        start = time.perf_counter()
        fine_tune(enc, task, config, seed=0, compile=compiled)  # warm-up (compiles)
        torch.cuda.synchronize()
        warm = time.perf_counter() - start
        start = time.perf_counter()
        fine_tune(enc, task, config, seed=0, compile=compiled)
        torch.cuda.synchronize()
        s = time.perf_counter() - start
        mfu = model_flops(params, N * LENGTH, True) / s / 1e12 / peak
        print(f"compile={compiled}: first run {warm:.1f} s, second {s:.1f} s: {N / s:.0f} ex/s, MFU {mfu:.1%} "
              f"(peak {peak:.0f} TFLOP/s)", flush=True)


if __name__ == "__main__":
    main()
