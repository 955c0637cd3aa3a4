"""Bogaert et al. 2023, section 3.1: is the fine-tuned vs frozen gap significant?

Both models are scored on the same test texts, so the verdict uses paired tests: one-sided
McNemar where the paper found a model better, equivalence (TOST) where it found no difference;
the paper's own z formula and the textbook pooled z test are reported beside
(harness/analysis/stats.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import stats

from .. import evidence, figures
from ..judges import Evidence as Base
from ..judges import (
    better_conclusion,
    paired_measured,
    paired_outcome,
    same_conclusion,
    seed_key,
    verdict,
)
from ..spec import ClaimSpec, Param, alpha, chance_floor, margin
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="accuracy_gap",
    source="Bogaert et al. 2023, section 3.1",
    sentence={
        "finetuned_better": ("Allocine: the fine-tuned model is significantly more accurate than "
                             "the frozen one (97.07 vs 94.31, p << 0.01)"),
        "frozen_better": "the frozen model is significantly more accurate than the fine-tuned one",
        "no_difference": ("InfOpinion: the accuracy gap between the fine-tuned (95.60) and the "
                          "frozen model (96.20) is not significant (p = 0.34)"),
    },
    decides=("fine-tuned vs frozen on the same test texts. `paper_says` a model is better: "
             "**reproduced** when one-sided McNemar (exact) in that direction has p < `alpha`, "
             "**contradicted** when the (1 - 2 alpha) paired interval of the difference shows "
             "the other way or lies inside (-`margin`, `margin`); `no_difference`: **reproduced** "
             "only by equivalence (TOST: the interval inside the margin, both models above "
             "chance), **contradicted** when it lies wholly outside the margin. The paper's z, "
             "the pooled z and two-sided McNemar are reported beside"),
    params=(
        Param("paper_says", "str", "finetuned_better", "what the paper found in this setting",
              choices=("finetuned_better", "frozen_better", "no_difference")),
        alpha(0.01), margin(), chance_floor(),
    ),
    figures=("accuracy_bars",),
    headline=('finetuned_accuracy', 'frozen_accuracy'),
    controls=("two coin-flip classifiers (never a reproduced 'no difference')",
              "identical models for 'fine-tuned better'", "the wrong direction"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each test text's correctness under the fine-tuned and the frozen model (the same
    texts, in the same order); ``chance``: the test split's majority-class rate."""

    finetuned: Sequence[np.ndarray]
    frozen: Sequence[np.ndarray]
    chance: float


def gather(pipeline, fx) -> Evidence:
    return Evidence(fixture=fx.name, seeds=fx.seeds, chance=evidence.chance(pipeline, fx),
                    finetuned=[evidence.predictions(evidence.finetuned(pipeline, fx, s)).correct for s in fx.seeds],
                    frozen=[evidence.predictions(evidence.frozen(pipeline, fx, s)).correct for s in fx.seeds])


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Fine-tuned vs frozen on the same test texts, against what the paper found
    (``paper_says``: ``finetuned_better``, ``frozen_better`` or ``no_difference``)."""
    alpha, margin, says = params["alpha"], params["margin"], params["paper_says"]
    floor, seeds, chance = params["min_above_chance"], ev.seeds, ev.chance
    results = [paired_outcome(ft, fr, alpha, margin) for ft, fr in zip(ev.finetuned, ev.frozen, strict=True)]
    per_seed, pvalues, notes = [], {}, []
    for i, (r, ft, fr) in enumerate(zip(results, ev.finetuned, ev.frozen, strict=True)):
        if says == "no_difference":
            premise = all(stats.above_chance(c, chance, floor) < alpha for c in (ft, fr))
            if not premise:
                notes.append(f"seed {seeds[i]}: a model is not above chance ({chance:.3f}) + {floor:g}: "
                             "equal accuracies of models that learned nothing say nothing")
            per_seed.append(same_conclusion(r["tost"], premise, len(seeds)))
            pvalues[seed_key("TOST finetuned = frozen", seeds, i)] = r["tost"].pvalue
        else:
            which = "a" if says == "finetuned_better" else "b"
            per_seed.append(better_conclusion(r, which, alpha, len(seeds)))
            pvalues[seed_key(f"McNemar one-sided, {says.replace('_', ' ')}", seeds, i)] = \
                r["p_a_greater"] if which == "a" else r["p_b_greater"]
    measured, intervals, details = paired_measured("finetuned", "frozen", results, alpha, says == "no_difference")
    if says == "no_difference":
        rule = (f"equivalence: the {1 - 2 * alpha:.0%} paired interval of fine-tuned - frozen inside "
                f"(-{margin:g}, {margin:g}) and both models above chance + {floor:g} (reproduced); wholly "
                "outside (contradicted)")
    else:
        rule = (f"{says.replace('_', ' ')}: one-sided exact McNemar p < {alpha:g} (reproduced); the "
                f"{1 - 2 * alpha:.0%} interval of the advantage below 0 or inside (-{margin:g}, {margin:g}) "
                "(contradicted)")
    return verdict(SPEC, ev, per_seed, params, criterion=rule, measured=measured,
                   intervals=intervals, details=details, pvalues=pvalues, notes=notes)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    ci, paper = v.intervals, v.paper
    return (figures.accuracy_bars(
        f"Test accuracy, fine-tuned vs frozen (seed {ev.seeds[0]})",
        [(name, float(c[0].mean()), ci[f"{name}_accuracy"][0] if len(c) == 1 else None,
          paper.get(f"{name}_accuracy")) for name, c in (("finetuned", ev.finetuned), ("frozen", ev.frozen))]),)
