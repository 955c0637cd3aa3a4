"""Claim 1 (Bogaert et al. 2023, Table 1): fine-tuning does not overfit.

For the fine-tuned and the frozen model, training and test accuracy stay close.
"""

from claims import evidence, judges

CLAIM = "no_overfitting"


def test_no_overfitting(fx, harness, record_verdict):
    task = evidence.target_task(harness, fx)
    accs = {"finetuned": [], "frozen": []}
    for seed in fx.seeds:
        for name, build in (("finetuned", evidence.finetuned), ("frozen", evidence.frozen)):
            acc = build(harness, fx, seed).meta["accuracy"]
            accs[name].append(judges.SplitAccuracy(train=acc["train"], test=acc["test"]))
    verdict = judges.no_overfitting(
        fx.name, fx.seeds, accs["finetuned"], accs["frozen"],
        judges.text_overlap(task["train"].texts, task["test"].texts), fx.claim(CLAIM),
    )
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
