"""Discriminant words (Bogaert et al. 2023, section 3.2): the fine-tuned classifier relies on
more task-related words than the frozen one.

Token relevance of both classifiers (the fine-tuned encoder with its head; the pre-trained
encoder with the frozen protocol's head) on the first ``max_texts`` texts of ``split``, by
Integrated Gradients (``method = "ig"``) or gradient x input (``"gradxinput"``) through Captum
(harness/analysis/attribution.py); sub-words merged into words, averaged per word over the words both
models saw at least ``min_count`` times, ranked by the difference of absolute mean relevance.
"Task-related" is measured by ``relatedness``: ``mutual_information`` (each word's presence
against the label, on the train split) or ``lexicon`` (membership of the fixture's ``lexicon``);
the two lists are compared by a permutation test (claims/judges.py).
"""

from dataclasses import replace

import pytest

from claims import evidence, figures, judges
from harness.analysis.attribution import discriminant_words, mutual_information

CLAIM = "discriminant_words"


def test_discriminant_words(fx, pipeline, record_verdict):
    pytest.importorskip("captum", reason="the discriminant-words claim needs Captum: pip install -e '.[attribution]'")
    params = fx.claim(CLAIM)
    task = evidence.target_task(pipeline, fx)
    common = dict(method=params["method"], n_steps=params["n_steps"], max_texts=params["max_texts"],
                  max_length=fx.fine_tune.max_length)
    ft_top, fr_top, related = [], [], []
    for seed in fx.seeds:
        tuned = evidence.finetuned(pipeline, fx, seed)
        ft = pipeline.relevance(tuned, None, task, params["split"], **common).json("words")
        fr = pipeline.relevance(fx.encoder, evidence.frozen(pipeline, fx, seed), task, params["split"],
                               **common).json("words")
        a, b = discriminant_words(ft, fr, top_k=params["top_k"], min_count=params["min_count"])
        ft_top.append(a)
        fr_top.append(b)
        words = [w for w, _ in a + b]
        if params["relatedness"] == "lexicon":
            lexicon = {w.lower() for w in params["lexicon"]}
            related.append({w: float(w in lexicon) for w in words})
        else:
            related.append(mutual_information(words, task["train"].texts, task["train"].labels))
    verdict = judges.discriminant_words(fx.name, fx.seeds, ft_top, fr_top, related, params)
    verdict = replace(verdict, figures=(figures.word_lists(
        f"Most discriminant words, fine-tuned vs frozen (seed {fx.seeds[0]})", verdict.details["relatedness"],
        [(name, [(w, d, related[0].get(w, 0.0)) for w, d in top[0]])
         for name, top in (("fine-tuned", ft_top), ("frozen", fr_top))]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
