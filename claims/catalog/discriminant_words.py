"""Bogaert et al. 2023, section 3.2: the fine-tuned classifier relies on more task-related words
than the frozen one.

Token relevance of both classifiers (the fine-tuned encoder with its head; the pre-trained
encoder with the frozen protocol's head) on the first ``max_texts`` texts of ``split``, by
Integrated Gradients (``method = "ig"``) or gradient x input (``"gradxinput"``) through Captum
(harness/analysis/attribution.py); sub-words merged into words, averaged per word over the words
both models saw at least ``min_count`` times, ranked by the difference of absolute mean relevance.
"Task-related" is measured by ``relatedness``: ``mutual_information`` (each word's presence
against the label, on the train split) or ``lexicon`` (membership of the fixture's ``lexicon``);
the two lists are compared by a permutation test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from harness.analysis import stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPRODUCED,
    measured_value,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    SPLIT,
    ClaimSpec,
    Param,
    alpha,
)
from ..verdict import Verdict


def _words_check(p: dict[str, Any], has_other_task: bool) -> str | None:
    if p["relatedness"] == "lexicon" and not p["lexicon"]:
        return "relatedness = 'lexicon' needs a non-empty `lexicon` list of words"
    return None


SPEC = ClaimSpec(
    name="discriminant_words",
    source="Bogaert et al. 2023, section 3.2",
    sentence=("the fine-tuned model's most discriminant words are task words (adoré, magnifique, "
              "éviter...), the frozen model's are style words"),
    decides=("token relevance (Integrated Gradients through Captum) of both classifiers, words "
             "ranked by the difference of absolute mean relevance; the relatedness of the "
             "fine-tuned model's `top_k` words against the frozen model's, by a permutation "
             "test: **reproduced** when the fine-tuned list is more task-related at p < `alpha`, "
             "**contradicted** when the frozen list is, **inconclusive** otherwise"),
    params=(
        Param("method", "str", "ig", "attribution method", choices=("ig", "gradxinput")),
        Param("n_steps", "int", 16, "Integrated Gradients steps", low=1),
        Param("split", "str", "test", "whose texts", choices=SPLIT),
        Param("max_texts", "int", 500, "texts attributed", low=1),
        Param("min_count", "int", 5, "a word must occur this often for both models", low=1),
        Param("top_k", "int", 10, "words per list", low=1),
        Param("relatedness", "str", "mutual_information", "what 'task-related' means",
              choices=("mutual_information", "lexicon")),
        Param("lexicon", "str_list", [], "task words, for relatedness = 'lexicon'"),
        alpha(0.05),
    ),
    figures=("word_lists",),
    headline=('finetuned_top*', 'frozen_top*'),
    controls=("two random word lists (not reproduced)", "lists swapped (contradicted)"),
    check=_words_check,
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, the fine-tuned and the frozen classifier's most discriminant words, each with its
    relevance difference, and (``relatedness[seed][word]``) how task-related each listed word is."""

    finetuned_top: Sequence[Sequence[tuple[str, float]]]
    frozen_top: Sequence[Sequence[tuple[str, float]]]
    relatedness: Sequence[dict[str, float]]


def gather(pipeline, fx) -> Evidence:
    pytest.importorskip("captum", reason="the discriminant-words claim needs Captum: pip install -e '.[attribution]'")
    from harness.analysis.attribution import discriminant_words, mutual_information

    params = fx.claim(SPEC.name)
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
    return Evidence(fixture=fx.name, seeds=fx.seeds, finetuned_top=ft_top, frozen_top=fr_top, relatedness=related)


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """The fine-tuned model's most discriminant words are more task-related than the frozen
    model's: the two lists' relatedness scores (``relatedness[seed_index][word]``: mutual
    information with the label on the train split, or membership of the fixture's lexicon)
    compared by a permutation test (the words shuffled between the lists): p < ``alpha`` for the
    fine-tuned list reproduces, p < ``alpha`` for the frozen list contradicts."""
    seeds, finetuned_top, frozen_top, relatedness = ev.seeds, ev.finetuned_top, ev.frozen_top, ev.relatedness
    alpha, measure, k = params["alpha"], params["relatedness"], params["top_k"]
    ft_scores, fr_scores, per_seed, pvalues, notes = [], [], [], {}, []
    for i, (ft, fr) in enumerate(zip(finetuned_top, frozen_top, strict=True)):
        if len(ft) < 2 or len(fr) < 2:
            notes.append(f"seed {seeds[i]}: fewer than 2 words in a list (no word was seen "
                         f"{params['min_count']} times by both models, or top_k < 2): nothing to compare")
            ft_scores.append(float("nan"))
            fr_scores.append(float("nan"))
            per_seed.append(INCONCLUSIVE)
            continue
        a = [relatedness[i].get(w, 0.0) for w, _ in ft]
        b = [relatedness[i].get(w, 0.0) for w, _ in fr]
        ft_scores.append(float(np.mean(a)))
        fr_scores.append(float(np.mean(b)))
        test = stats.permutation_difference(a, b, seed=i)
        pvalues[seed_key("permutation, fine-tuned words more related", seeds, i)] = test.p_greater
        per_seed.append(REPRODUCED if test.p_greater < alpha else CONTRADICTED if test.p_less < alpha / len(seeds)
                        else INCONCLUSIVE)
    label = "mutual information with the label (train split, nats)" if measure == "mutual_information" \
        else "share in the fixture's lexicon"
    measured = {f"finetuned_top{k}_{measure}": measured_value(ft_scores), f"frozen_top{k}_{measure}": measured_value(fr_scores)}
    details: dict[str, Any] = {
        "relatedness": label,
        "fine-tuned top words (relevance difference)": [[(w, round(d, 4)) for w, d in ft] for ft in finetuned_top],
        "frozen top words (relevance difference)": [[(w, round(d, 4)) for w, d in fr] for fr in frozen_top],
    }
    criterion = (f"mean {label} of the fine-tuned model's top {k} discriminant words against the frozen "
                 f"model's, permutation test at alpha = {alpha:g}: fine-tuned higher (reproduced), frozen "
                 "higher (contradicted), on every seed")
    return verdict(SPEC, ev, per_seed, params, criterion=criterion,
                   measured=measured, details=details, pvalues=pvalues, notes=notes)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    return (figures.word_lists(
        f"Most discriminant words, fine-tuned vs frozen (seed {ev.seeds[0]})", v.details["relatedness"],
        [(name, [(w, d, ev.relatedness[0].get(w, 0.0)) for w, d in top[0]])
         for name, top in (("fine-tuned", ev.finetuned_top), ("frozen", ev.frozen_top))]),)
