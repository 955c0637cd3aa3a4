"""Bogaert et al. 2023, Table 3: "the loss in performances is negligible".

Accuracy on task A with the encoder fine-tuned on task B and a frozen head trained on A, against
the frozen encoder's accuracy on A (the same texts, by equivalence within the fixture's margin),
with same-task fine-tuning beside them.
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
    intervals_of,
    measured_value,
    paired_measured,
    paired_outcome,
    same_conclusion,
    seed_key,
    verdict,
)
from ..spec import ClaimSpec, alpha, chance_floor, margin
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="cross_task",
    source="Bogaert et al. 2023, Table 3",
    sentence=("the loss in performances is negligible: an encoder fine-tuned on another task, "
              "with a frozen head trained on the target task, keeps the frozen encoder's "
              "accuracy (Allocine 94.32 vs 94.31 frozen; InfOpinion 95.50 vs 96.20)"),
    decides=("cross-task vs frozen accuracy on the same test texts, by equivalence (TOST on the "
             "paired per-text differences): **reproduced** when the (1 - 2 alpha) interval "
             "lies inside (-`margin`, `margin`) and the frozen model is above chance, "
             "**contradicted** when it lies wholly outside, **inconclusive** otherwise. "
             "Same-task fine-tuning is shown beside, with McNemar against cross-task"),
    params=(alpha(0.05), margin(), chance_floor()),
    figures=("accuracy_bars",),
    headline=('cross_task_accuracy', 'frozen_accuracy'),
    needs=("other_task",),
    controls=("a cross-task encoder far below frozen (contradicted)",
              "two coin-flip classifiers (not reproduced)"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each of task A's test texts' correctness under the encoder fine-tuned on A
    (``same``), the encoder fine-tuned on task B with a frozen head trained on A (``cross``) and the
    frozen encoder (``frozen``), on the same texts; ``chance``: A's majority-class rate."""

    same: Sequence[np.ndarray]
    cross: Sequence[np.ndarray]
    frozen: Sequence[np.ndarray]
    chance: float


def gather(pipeline, fx) -> Evidence:
    def correct(build) -> list[np.ndarray]:
        return [evidence.predictions(build(pipeline, fx, s)).correct for s in fx.seeds]

    return Evidence(fixture=fx.name, seeds=fx.seeds, same=correct(evidence.finetuned),
                    cross=correct(evidence.cross), frozen=correct(evidence.frozen),
                    chance=evidence.chance(pipeline, fx))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Bogaert et al.'s "the loss in performances is negligible": the cross-task model (encoder
    fine-tuned on task B, frozen head on A) is equivalent to the frozen model on A's test texts.
    Same-task fine-tuning is reported beside (McNemar against cross-task)."""
    seeds, correct_same, correct_cross, correct_frozen, chance = ev.seeds, ev.same, ev.cross, ev.frozen, ev.chance
    alpha, margin, floor = params["alpha"], params["margin"], params["min_above_chance"]
    results = [paired_outcome(c, f, alpha, margin) for c, f in zip(correct_cross, correct_frozen, strict=True)]
    per_seed, pvalues, notes = [], {}, []
    for i, (r, fr) in enumerate(zip(results, correct_frozen, strict=True)):
        premise = stats.above_chance(fr, chance, floor) < alpha
        if not premise:
            notes.append(f"seed {seeds[i]}: the frozen model is not above chance ({chance:.3f}) + {floor:g}")
        per_seed.append(same_conclusion(r["tost"], premise, len(seeds)))
        pvalues[seed_key("TOST cross-task = frozen", seeds, i)] = r["tost"].pvalue
    measured, intervals, details = paired_measured("cross_task", "frozen", results, alpha, True)
    same = [paired_outcome(s, c, alpha, margin) for s, c in zip(correct_same, correct_cross, strict=True)]
    measured = {"same_task_accuracy": measured_value([r["acc_a"] for r in same]), **measured}
    intervals["same_task_accuracy"] = intervals_of([r["ci_a"] for r in same])
    details["same-task vs cross-task, McNemar (two-sided, reported)"] = [
        {"p": r["mcnemar_p"], "same_task - cross_task": r["tost"].difference} for r in same]
    return verdict(SPEC, ev, per_seed, params, measured=measured, intervals=intervals,
                   details=details, pvalues=pvalues, notes=notes,
                   criterion=(f"cross-task vs frozen accuracy on the same texts: the {1 - 2 * alpha:.0%} paired interval "
                              f"of the difference inside (-{margin:g}, {margin:g}) with the frozen model above chance "
                              f"(reproduced: a negligible loss), wholly outside (contradicted)"))


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    one = len(ev.seeds) == 1
    return (figures.accuracy_bars(
        f"Target-task test accuracy (seed {ev.seeds[0]})",
        [(f"{name.replace('_', '-')}", float(c[0].mean()), v.intervals[f"{name}_accuracy"][0] if one else None,
          v.paper.get(f"{name}_accuracy"))
         for name, c in (("same_task", ev.same), ("cross_task", ev.cross), ("frozen", ev.frozen))]),)
