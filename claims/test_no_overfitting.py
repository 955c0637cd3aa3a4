"""Claim 1 (Bogaert et al. 2023, Table 1): fine-tuning does not overfit.

For the fine-tuned and the frozen model, training and test accuracy stay close.
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "no_overfitting"


def test_no_overfitting(fx, harness, record_verdict):
    task = evidence.target_task(harness, fx)
    accs = {"finetuned": [], "frozen": []}
    correct = {}  # (model, split) -> per-seed correct arrays, for bootstrap intervals
    for seed in fx.seeds:
        for name, build in (("finetuned", evidence.finetuned), ("frozen", evidence.frozen)):
            art = build(harness, fx, seed)
            acc = art.meta["accuracy"]
            accs[name].append(judges.SplitAccuracy(train=acc["train"], test=acc["test"]))
            for split in ("train", "test"):
                correct.setdefault((name, split), []).append(evidence.predictions(art, split).correct)
    verdict = judges.no_overfitting(
        fx.name, fx.seeds, accs["finetuned"], accs["frozen"],
        judges.text_overlap(task["train"].texts, task["test"].texts), fx.claim(CLAIM),
    )
    intervals = {f"{name}_{split}": judges.accuracy_interval(c) for (name, split), c in correct.items()}
    paper = verdict.paper
    bars = [(f"{name} {split}", float(c[0].mean()), intervals[f"{name}_{split}"] if len(c) == 1 else None,
             paper.get(f"{name}_{split}")) for (name, split), c in correct.items()]
    verdict = replace(verdict, intervals=intervals, figures=(figures.accuracy_bars(
        f"Train and test accuracy (seed {fx.seeds[0]}; paper's figure as a tick)", bars),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
