"""Discriminant words: Integrated Gradients' completeness, word merging, ranking and mutual
information against hand computations, and the cached relevance artifact."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harness.analysis.attribution import (
    discriminant_words,
    mutual_information,
    word_relevance,
    word_table,
)
from harness.data.synthetic import generate_task
from harness.errors import ConfigError
from harness.models.encoders import EncoderSpec, load_encoder
from harness.models.heads import HeadConfig, RobertaStyleHead
from harness.pipeline.build import Harness
from harness.store import ArtifactStore
from harness.training.protocols import FineTuneConfig, SequenceClassifier

pytest.importorskip("captum", reason="attribution needs Captum: pip install -e '.[attribution]'")
TINY = EncoderSpec("offline:minilm-l2")


@pytest.fixture(scope="module")
def classifier():
    enc = load_encoder(TINY)
    torch.manual_seed(0)
    return SequenceClassifier(enc.model, 2, head=RobertaStyleHead(384, 2)).eval(), enc.tokenizer


def test_integrated_gradients_are_complete(classifier):
    """IG's relevances sum to the target logit's change from the baseline (specials kept, every
    other token padding): the special tokens get exactly zero, so the words carry it all."""
    model, tok = classifier
    texts = ["an unbelievably wonderful film", "the plot was dull"]
    words = word_relevance(model, tok, texts, 32, method="ig", n_steps=128, batch_size=2)
    enc = tok(texts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    special = torch.tensor([[t in tok.all_special_ids for t in row] for row in ids.tolist()])
    baseline = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id))
    with torch.no_grad():
        logits, base = model(ids, mask), model(baseline, mask)
    target = logits.argmax(1)
    for row, text_words in enumerate(words):
        change = float(logits[row, target[row]] - base[row, target[row]])
        assert sum(r for _, r in text_words) == pytest.approx(change, rel=0.02, abs=1e-3)


def test_texts_come_back_in_input_order_as_if_attributed_alone(classifier):
    """Texts are attributed in chunks of similar length: each text's relevances are those it gets
    alone (padding aside, to float precision), in the order the texts were given."""
    model, tok = classifier
    texts = ["a long and winding story that never quite finds its feet", "dull", "a fine cast",
             "the best film of the year , by far , and a joy", "meh"]
    together = word_relevance(model, tok, texts, 32, method="ig", n_steps=8, batch_size=2)
    for text, got in zip(texts, together, strict=True):
        (alone,) = word_relevance(model, tok, [text], 32, method="ig", n_steps=8, batch_size=1)
        assert [w for w, _ in got] == [w for w, _ in alone]
        np.testing.assert_allclose([r for _, r in got], [r for _, r in alone], rtol=1e-4, atol=1e-6)


def test_sub_words_merge_into_words(classifier):
    model, tok = classifier
    text = "An unbelievably wonderful film, honestly."
    assert len(tok.tokenize("unbelievably")) > 1  # the check needs a word split into pieces
    (words,) = word_relevance(model, tok, [text], 32, method="gradxinput")
    assert [w for w, _ in words] == ["an", "unbelievably", "wonderful", "film", ",", "honestly", "."]
    with pytest.raises(ConfigError, match="unknown attribution method 'lrp'"):
        word_relevance(model, tok, [text], 32, method="lrp")


def test_ranking_by_difference_of_absolute_mean_relevance():
    a = word_table([[("good", 2.0), ("the", 0.1), ("film", -1.0)], [("good", 1.0), ("the", 0.1), ("!", 5.0)]])
    assert a["good"] == (2, 1.5) and a["film"] == (1, -1.0)
    b = {"good": (2, 0.5), "the": (2, -0.9), "film": (1, -3.0), "!": (1, 0.0)}
    top_a, top_b = discriminant_words(a, b, top_k=1, min_count=2)
    assert top_a == [("good", 1.0)] and top_b == [("the", pytest.approx(0.1 - 0.9))]
    # min_count 1 lets "film" in (|-1| - |-3| = -2: the most discriminant for b); "!" is no word
    top_a, top_b = discriminant_words(a, b, top_k=5, min_count=1)
    assert [w for w, _ in top_b][0] == "film" and "!" not in [w for w, _ in top_a + top_b]


def test_mutual_information_equals_the_formula():
    texts = ["good film", "good plot", "bad film", "bad plot good", "film"]
    labels = np.array([1, 1, 0, 0, 0])
    mi = mutual_information(["good", "film"], texts, labels)

    def reference(word):
        present = np.array([word in t.split() for t in texts])
        total = 0.0
        for p in (True, False):
            for y in (0, 1):
                joint = np.mean((present == p) & (labels == y))
                if joint > 0:
                    total += joint * math.log(joint / (np.mean(present == p) * np.mean(labels == y)))
        return total

    assert mi["good"] == pytest.approx(reference("good")) and mi["film"] == pytest.approx(reference("film"))
    assert mi["good"] > mi["film"]


def test_relevance_artifacts_of_the_fine_tuned_and_the_frozen_classifier(tmp_path):
    h = Harness(ArtifactStore(tmp_path), device="cpu")
    task = generate_task("sentiment", n_train=48, n_validation=8, n_test=16, signal=1.0, seed=0)
    tuned = h.fine_tuned(TINY, task, FineTuneConfig(epochs=1, lr=1e-4, batch_size=8, max_length=24), seed=0)
    probe = h.frozen(TINY, task, HeadConfig(epochs=2), seed=0, max_length=24)
    ft = h.relevance(tuned, None, task, "test", method="ig", n_steps=4, max_texts=8, max_length=24)
    fr = h.relevance(TINY, probe, task, "test", method="ig", n_steps=4, max_texts=8, max_length=24)
    assert ft.meta["n_texts"] == fr.meta["n_texts"] == 8
    words_ft, words_fr = ft.json("words"), fr.json("words")
    assert set(words_ft) == set(words_fr) and words_ft != words_fr
    assert h.relevance(tuned, None, task, "test", method="ig", n_steps=4, max_texts=8, max_length=24).cache_hit
    with pytest.raises(ConfigError, match="not a probe trained on"):
        h.classifier(tuned, probe)
    logreg = h.frozen(TINY, task, HeadConfig(kind="logreg"), seed=0, max_length=24)
    with pytest.raises(ConfigError, match="needs a torch head"):
        h.classifier(TINY, logreg)
