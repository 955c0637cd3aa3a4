"""Discriminant words (Bogaert et al. 2023, section 3.2): which words a classifier relies on.

Token relevance comes from Captum. Two methods:
- **Integrated Gradients** (``ig``) on the input embeddings, against a baseline that keeps the
  special tokens and replaces every other token by padding. IG satisfies completeness (the
  relevances sum to the logit's change from the baseline) and needs only gradients, so it works
  for any Hugging Face encoder.
- **Gradient x input** (``gradxinput``): a one-pass approximation, for quick smoke runs.

LRP through ``lxt`` is the alternative that the issue names. It needs per-architecture rules
patched into the model, and Captum's IG does not; that is why Captum was chosen.

Relevance goes to the logit of the class the classifier predicts. Sub-word relevances are summed
into words (the fast tokenizer's word ids and character offsets), and words are lower-cased.
:func:`word_table` then averages per word; :func:`discriminant_words` ranks the words by the
difference of absolute mean relevance between two classifiers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

METHODS = ("ig", "gradxinput")
WORD = re.compile(r"^\w+$")


def word_relevance(classifier: nn.Module, tokenizer, texts: Sequence[str], max_length: int, *,
                   method: str = "ig", n_steps: int = 16, batch_size: int = 16
                   ) -> list[list[tuple[str, float]]]:
    """Per text, ``(word, relevance)`` for each word, in order (special tokens left out).

    ``classifier``: a :class:`harness.training.protocols.SequenceClassifier` (``.encoder`` a Hugging Face
    encoder, called with ``(input_ids, attention_mask)``, returning logits)."""
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    if method not in METHODS:
        raise ConfigError(f"unknown attribution method {method!r}; allowed: {list(METHODS)}")
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("discriminant words need a fast tokenizer (word ids and character offsets)")
    device = next(classifier.parameters()).device
    classifier.eval()
    layer = classifier.encoder.get_input_embeddings()
    explainer = (LayerIntegratedGradients(classifier, layer) if method == "ig"
                 else LayerGradientXActivation(classifier, layer))
    special = set(tokenizer.all_special_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # Texts are attributed in chunks of similar length (less padding; a text's relevance does not
    # depend on the others in its chunk) and returned in input order.
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    out: list[list[tuple[str, float]]] = [[] for _ in texts]
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        chunk = [texts[i] for i in rows]
        enc = tokenizer(chunk, truncation=True, max_length=max_length, padding=True,
                        return_offsets_mapping=True, return_tensors="pt")
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        with torch.no_grad():
            target = classifier(ids, mask).argmax(1)
        if method == "ig":
            keep = torch.tensor([[t in special for t in row] for row in enc["input_ids"].tolist()], device=device)
            baseline = torch.where(keep, ids, torch.full_like(ids, pad_id))
            attr = explainer.attribute(ids, baselines=baseline, additional_forward_args=(mask,), target=target,
                                       n_steps=n_steps, internal_batch_size=len(chunk) * n_steps)
        else:
            attr = explainer.attribute(ids, additional_forward_args=(mask,), target=target)
        per_token = attr.sum(-1).detach().float().cpu().numpy()
        for row, (index, text) in enumerate(zip(rows, chunk, strict=True)):
            words: dict[int, list] = {}
            for pos, word_id in enumerate(enc.word_ids(row)):
                if word_id is None:
                    continue
                lo, hi = (int(v) for v in enc["offset_mapping"][row, pos])
                entry = words.setdefault(word_id, [lo, hi, 0.0])
                entry[1] = max(entry[1], hi)
                entry[2] += float(per_token[row, pos])
            out[index] = [(text[lo:hi].lower(), rel) for lo, hi, rel in words.values()]
    return out


def word_table(relevance: Sequence[Sequence[tuple[str, float]]]) -> dict[str, tuple[int, float]]:
    """``{word: (count, mean relevance)}`` over every occurrence in every text."""
    sums: dict[str, list] = {}
    for text in relevance:
        for word, rel in text:
            entry = sums.setdefault(word, [0, 0.0])
            entry[0] += 1
            entry[1] += rel
    return {w: (n, s / n) for w, (n, s) in sums.items()}


def discriminant_words(a: dict[str, tuple[int, float]], b: dict[str, tuple[int, float]], *, top_k: int,
                       min_count: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Words seen at least ``min_count`` times by both tables (letters and digits only), ranked
    by ``|mean relevance in a| - |mean relevance in b|``: the ``top_k`` most discriminant for
    ``a`` (largest difference first) and for ``b`` (most negative first)."""
    common = [w for w in a if w in b and WORD.match(w) and min(a[w][0], b[w][0]) >= min_count]
    diff = {w: abs(a[w][1]) - abs(b[w][1]) for w in common}
    order = sorted(common, key=lambda w: (diff[w], w))
    return ([(w, diff[w]) for w in reversed(order[-top_k:])], [(w, diff[w]) for w in order[:top_k]])


def mutual_information(words: Sequence[str], texts: Sequence[str], labels: np.ndarray) -> dict[str, float]:
    """Mutual information (nats) between each word's presence in a text and the label, over
    ``texts`` (the train split): how much the word alone says about the task."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.feature_selection import mutual_info_classif

    if not words:
        return {}
    vocab = sorted(set(words))
    x = CountVectorizer(vocabulary=vocab, binary=True, lowercase=True,
                        token_pattern=r"(?u)\b\w+\b").fit_transform(list(texts))
    mi = mutual_info_classif(x, np.asarray(labels), discrete_features=True, random_state=0)
    return dict(zip(vocab, (float(v) for v in mi), strict=True))
