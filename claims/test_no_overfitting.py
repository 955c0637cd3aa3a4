"""Claim 1 (Bogaert et al. 2023, Table 1): fine-tuning does not overfit.

For the fine-tuned and the frozen model, training and test accuracy stay close: each gap's
interval within the fixture's tolerance, on models that learned something (above chance) and on a
test split that does not repeat the training texts.
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "no_overfitting"


def test_no_overfitting(fx, pipeline, record_verdict):
    task = evidence.target_task(pipeline, fx)
    outcomes = {"finetuned": [], "frozen": []}
    for seed in fx.seeds:
        for name, build in (("finetuned", evidence.finetuned), ("frozen", evidence.frozen)):
            art = build(pipeline, fx, seed)
            outcomes[name].append(judges.SplitOutcomes(train=evidence.predictions(art, "train").correct,
                                                       test=evidence.predictions(art, "test").correct))
    verdict = judges.no_overfitting(
        fx.name, fx.seeds, outcomes["finetuned"], outcomes["frozen"],
        judges.text_overlap(task["train"].texts, task["test"].texts), evidence.chance(pipeline, fx),
        fx.claim(CLAIM),
    )
    intervals = dict(verdict.intervals)
    bars = []
    for name, runs in outcomes.items():
        for split in ("train", "test"):
            correct = [getattr(r, split) for r in runs]
            intervals[f"{name}_{split}"] = judges.accuracy_interval(correct)
            bars.append((f"{name} {split}", float(correct[0].mean()),
                         intervals[f"{name}_{split}"][0] if len(correct) == 1 else None,
                         verdict.paper.get(f"{name}_{split}")))
    verdict = replace(verdict, intervals=intervals, figures=(figures.accuracy_bars(
        f"Train and test accuracy (seed {fx.seeds[0]}; paper's figure as a tick)", bars),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
