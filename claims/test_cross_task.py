"""Claim 5 (Bogaert et al. 2023, Table 3; Zhou and Srikumar, Table 5): fine-tuning on another
task loses some of the target task.

Accuracy on task A with the encoder fine-tuned on task B and a frozen head trained on A, against
fine-tuning on A itself (paired, McNemar), with the frozen encoder's accuracy beside them.
Bogaert et al.: Allocine 94.32 cross-task vs 97.07 same-task (94.31 frozen); InfOpinion 95.50 vs
95.60 (96.20).
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "cross_task"


def test_cross_task(fx, harness, record_verdict):
    same, cross, frozen, frozen_correct = [], [], [], []
    for seed in fx.seeds:
        same.append(evidence.predictions(evidence.finetuned(harness, fx, seed)).correct)
        cross.append(evidence.predictions(evidence.cross(harness, fx, seed)).correct)
        frozen_correct.append(evidence.predictions(evidence.frozen(harness, fx, seed)).correct)
        frozen.append(float(frozen_correct[-1].mean()))
    verdict = judges.cross_task(fx.name, fx.seeds, same, cross, frozen, fx.claim(CLAIM))
    ci = dict(verdict.intervals, frozen_accuracy=judges.accuracy_interval(frozen_correct))
    one = len(fx.seeds) == 1
    verdict = replace(verdict, intervals=ci, figures=(figures.accuracy_bars(
        f"Target-task test accuracy (seed {fx.seeds[0]})",
        [(f"{name.replace('_', '-')}", float(c[0].mean()), ci[f"{name}_accuracy"] if one else None,
          verdict.paper.get(f"{name}_accuracy"))
         for name, c in (("same_task", same), ("cross_task", cross), ("frozen", frozen_correct))]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
