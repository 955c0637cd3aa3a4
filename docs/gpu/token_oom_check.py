"""GPU check: token fine-tuning's out-of-memory back-off on CUDA (``fine_tune_tokens``, 570bbb0).

    python docs/gpu/token_oom_check.py TOKENIZER_DIR    # DEV=cpu runs part 1 only

TOKENIZER_DIR: a BERT WordPiece tokenizer's files (the offline MiniLM's ``model/`` folder: its
vocab.txt, tokenizer.json and the two configs). The models are random (their weights do not matter
to memory), so nothing comes from the hub. Run on the device machine's H100 on 2026-11-27 (torch
2.11.0+cu130): part 1 the same losses and the two warnings; part 2 a bert-base-shaped model (9.1
GiB peak unlimited) limited to 3.5 GiB backed off from 32 to 1 sentence per pass, peak 3.37 GiB,
the same losses as the unlimited run (1.88230, 1.63403), 29 s in all.
(That run had its own copy of the tests' ``fail_above``; this one imports it: the same error.)

1. Simulated: a small random BERT, the encoder's forward raising torch.OutOfMemoryError above
   2 sentences: the same losses as a run without (GPU kernels: rtol 1e-3), two warnings.
2. Real: a bert-base-shaped random BERT under torch.cuda.set_per_process_memory_fraction, a batch
   of 32 long sentences that cannot fit: the step backs off until it fits, with finite losses
   close to an unlimited run's.
"""
import copy
import os
import sys
import time
import types
import warnings

import numpy as np
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

sys.path.insert(0, ".")
from harness.data.tokens import _task  # noqa: E402
from harness.training.protocols import FineTuneConfig  # noqa: E402
from harness.training.tokens import fine_tune_tokens  # noqa: E402
from tests.test_encoders import fail_above  # noqa: E402

dev = torch.device(os.environ.get("DEV", "cuda"))
print(torch.__version__, torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", flush=True)
tok = BertTokenizerFast.from_pretrained(sys.argv[1] if len(sys.argv) > 1 else ".gpucheck/tok")
rng = np.random.default_rng(0)
vocab = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "house", "blue", "green", "quickly"]
tags = ["DET", "NOUN", "VERB", "ADP", "ADJ", "ADV"]


def task(n, words):
    per = {}
    for split, k in (("train", n), ("test", 8)):
        rows = []
        for _ in range(k):
            w = tuple(rng.choice(vocab, words))
            rows.append((w, [(i, -1, tags[hash(t) % len(tags)]) for i, t in enumerate(w)]))
        per[split] = rows
    return _task("synthetic-pos", "word", per, "synthetic")


def bert(hidden, layers, heads):
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=4 * hidden, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, max_position_embeddings=512)
    torch.manual_seed(0)
    return BertModel(cfg).to(dev)


def run(model, t, config, max_rows=None):
    enc = types.SimpleNamespace(model=copy.deepcopy(model), tokenizer=tok)
    calls = []
    if max_rows:
        fail_above(enc.model, max_rows, calls)  # the tests' simulated out-of-memory error
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fine_tune_tokens(enc, t, config, seed=0)
    return result, [str(w.message).split(";")[0] for w in caught if "out of memory" in str(w.message)], calls


ok = True
# 1. simulated
t = task(40, 12)
config = FineTuneConfig(epochs=1, lr=1e-3, batch_size=8, head_dropout=0.0)
small = bert(128, 2, 2)
plain, _, _ = run(small, t, config)
backed, msgs, calls = run(small, t, config, max_rows=2)
same = np.allclose(backed.losses, plain.losses, rtol=1e-3)
print("simulated:", msgs, "calls", calls[:4], "losses equal:", same, plain.losses[:3], backed.losses[:3], flush=True)
ok &= same and msgs == ["fine_tune_tokens: out of memory at 8 sentences per pass",
                        "fine_tune_tokens: out of memory at 4 sentences per pass"]

if dev.type != "cuda":
    print("GPU CHECK", "PASSED (part 1 only, on the CPU)" if ok else "FAILED", flush=True)
    sys.exit(0 if ok else 1)
# 2. real CUDA out of memory, bert-base shape, long sentences
t = task(64, 400)
config = FineTuneConfig(epochs=1, lr=1e-5, batch_size=32, head_dropout=0.0)
base = bert(768, 12, 12)
start = time.perf_counter()
unlimited, m0, _ = run(base, t, config)
peak = torch.cuda.max_memory_allocated() / 2**30
print(f"unlimited: {time.perf_counter() - start:.1f} s, peak {peak:.1f} GiB, warnings {m0}, losses {unlimited.losses}", flush=True)
torch.cuda.empty_cache()
torch.cuda.reset_peak_memory_stats()
total = torch.cuda.get_device_properties(0).total_memory
fraction = (3.5 * 2**30) / total  # weights, grads and Adam (about 1.7 GiB) fit; 32 long sentences do not
torch.cuda.set_per_process_memory_fraction(fraction, 0)
start = time.perf_counter()
try:
    limited, msgs, _ = run(base, t, config)
    close = np.allclose(limited.losses, unlimited.losses, rtol=2e-2)
    print(f"limited to {fraction * total / 2**30:.1f} GiB: {time.perf_counter() - start:.1f} s, peak "
          f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB, warnings {msgs}, losses {limited.losses}, close: {close}",
          flush=True)
    ok &= bool(msgs) and close and np.isfinite(limited.losses).all()
except Exception as exc:  # noqa: BLE001
    print("limited run failed:", type(exc).__name__, str(exc)[:300], flush=True)
    ok = False
print("GPU CHECK", "PASSED" if ok else "FAILED", flush=True)
sys.exit(0 if ok else 1)
