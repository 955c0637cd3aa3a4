"""Where does the GPU time go? One call's worth of variants, printed as a table.

    python docs/gpu/explore_throughput.py [--compile]

Measures, on a bert-base-uncased-shaped encoder at max length 128 (all texts full length): the
card's bf16 rate; tokenization; the harness's ``encode`` and ``fine_tune`` end to end; and the
bare GPU work (pre-padded tensors) under autocast, with bf16 weights, with deterministic
algorithms on and off, and (with --compile) under ``torch.compile``. The figures go into
``docs/gpu-throughput.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from harness.data import make_task  # noqa: E402
from harness.models.encoders import encode  # noqa: E402
from harness.pipeline.throughput import (
    benchmark_tokenizer,
    full_length_texts,
    measured_bf16_tflops,
    model_flops,
    parameter_count,
    shaped_encoder,
)
from harness.training.protocols import FineTuneConfig, SequenceClassifier, fine_tune  # noqa: E402

L = 128
rows: list[dict] = []


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, repeats=3):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def add(name, seconds, examples, params, training, peak):
    tflops = model_flops(params, examples * L, training) / seconds / 1e12
    rows.append(dict(name=name, ex_per_s=examples / seconds, tflops=tflops, mfu=tflops / peak))
    print(f"{name:55s} {examples / seconds:9.0f} ex/s  {tflops:6.1f} TFLOP/s  MFU {tflops / peak:6.1%}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--shape", default="bert-base-uncased")
    ap.add_argument("--out", default=None)
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: checks the script runs")
    args = ap.parse_args()
    if args.dry_run:
        dev, peak, n_enc, n_train, name = torch.device("cpu"), 1.0, 64, 64, "cpu"
    else:
        dev, n_enc, n_train, name = torch.device("cuda"), 16384, 4096, torch.cuda.get_device_name()
        peak = measured_bf16_tflops(dev)
    print(f"{name}  torch {torch.__version__}  measured bf16 {peak:.0f} TFLOP/s")
    tok = benchmark_tokenizer()
    t = time.perf_counter()
    texts = full_length_texts(tok, n_enc, L)
    print(f"texts made in {time.perf_counter() - t:.1f} s")

    enc = shaped_encoder(args.shape, tok, dev)
    p_enc = parameter_count(enc.model)
    ids = torch.randint(1000, 30000, (n_enc, L), device=dev)
    mask = torch.ones_like(ids)

    # --- encoding
    import harness.models.encoders as he

    def cold(bs):
        he._TOKEN_CACHE.clear()
        encode(enc.model, tok, texts, layers=(-1,), max_length=L, batch_size=bs)

    add("encode harness, tokenizing included, bs256", timed(lambda: cold(256)), n_enc, p_enc, False, peak)
    add("encode harness, tokens cached, bs256",
        timed(lambda: encode(enc.model, tok, texts, layers=(-1,), max_length=L, batch_size=256)), n_enc, p_enc, False, peak)
    add("encode harness, tokens cached, bs1024",
        timed(lambda: encode(enc.model, tok, texts, layers=(-1,), max_length=L, batch_size=1024)), n_enc, p_enc, False, peak)

    def bare_encode(model, bs, cast):
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cast):
            for i in range(0, n_enc, bs):
                model(input_ids=ids[i:i + bs], attention_mask=mask[i:i + bs]).last_hidden_state[:, 0].float()

    bf = shaped_encoder(args.shape, tok, dev)
    bf.model.to(torch.bfloat16)
    add("encode bare bf16 weights bs256 (reference)", timed(lambda: bare_encode(bf.model, 256, False)), n_enc, p_enc, False, peak)

    # --- fine-tuning
    labels = (np.arange(n_train) % 2).tolist()
    task = make_task("bench", {"train": (texts[:n_train], labels), "test": (texts[:64], labels[:64])})
    head_params = parameter_count(SequenceClassifier(enc.model, 2, 0.1).head)
    p_train = p_enc + head_params
    for bs in (16, 64, 256):
        cfg = FineTuneConfig(epochs=1, batch_size=bs, max_length=L)
        s = timed(lambda cfg=cfg: fine_tune(enc, task, cfg, seed=0), repeats=2)
        add(f"finetune harness bs{bs}", s, n_train, p_train, True, peak)
    if args.compile:
        for bs in (16, 256):
            cfg = FineTuneConfig(epochs=1, batch_size=bs, max_length=L)
            s = timed(lambda cfg=cfg: fine_tune(enc, task, cfg, seed=0, compile=True), repeats=1)
            add(f"finetune harness bs{bs} compiled (after a warm-up run)", s, n_train, p_train, True, peak)

    def bare_train(model, bs, steps):
        clf = SequenceClassifier(model, 2, 0.1).to(dev).train()
        opt = torch.optim.AdamW(clf.parameters(), lr=2e-5, fused=True)
        y = torch.randint(0, 2, (n_enc,), device=dev)

        def run():
            for k in range(steps):
                i = (k * bs) % (n_enc - bs)
                with torch.autocast(dev.type, dtype=torch.bfloat16):
                    logits = clf(ids[i:i + bs], mask[i:i + bs])
                loss = nn.functional.cross_entropy(logits.float(), y[i:i + bs])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
                opt.step()
        return run

    steps = max(2, n_train // 256) if not args.dry_run else 2
    add("finetune bare autocast bs256 (reference)", timed(bare_train(enc.model, 256, steps), repeats=2), steps * 256,
        p_train, True, peak)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(dict(device=name, torch=torch.__version__, peak_tflops=peak,
                           shape=args.shape, rows=rows), fh, indent=1)


if __name__ == "__main__":
    main()
