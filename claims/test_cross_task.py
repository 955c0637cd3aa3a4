"""Claim 5 (Bogaert et al. 2023, Table 3): "the loss in performances is negligible".

Accuracy on task A with the encoder fine-tuned on task B and a frozen head trained on A, against
the frozen encoder's accuracy on A (the same texts, by equivalence within the fixture's margin),
with same-task fine-tuning beside them. Bogaert et al.: Allocine 94.32 cross-task vs 94.31 frozen
(97.07 same-task); InfOpinion 95.50 vs 96.20 (95.60).
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "cross_task"


def test_cross_task(fx, pipeline, record_verdict):
    same, cross, frozen_correct = [], [], []
    for seed in fx.seeds:
        same.append(evidence.predictions(evidence.finetuned(pipeline, fx, seed)).correct)
        cross.append(evidence.predictions(evidence.cross(pipeline, fx, seed)).correct)
        frozen_correct.append(evidence.predictions(evidence.frozen(pipeline, fx, seed)).correct)
    verdict = judges.cross_task(fx.name, fx.seeds, same, cross, frozen_correct, evidence.chance(pipeline, fx),
                                fx.claim(CLAIM))
    ci = verdict.intervals
    one = len(fx.seeds) == 1
    verdict = replace(verdict, intervals=ci, figures=(figures.accuracy_bars(
        f"Target-task test accuracy (seed {fx.seeds[0]})",
        [(f"{name.replace('_', '-')}", float(c[0].mean()), ci[f"{name}_accuracy"][0] if one else None,
          verdict.paper.get(f"{name}_accuracy"))
         for name, c in (("same_task", same), ("cross_task", cross), ("frozen", frozen_correct))]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
