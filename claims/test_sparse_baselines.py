"""Sparse baselines (Hart, "Task-specific training"): does the fine-tuned transformer beat
bag-of-words logistic regression (TF-IDF, token counts, hashed counts), scored by k-fold
cross-validation as Hart did (10 folds)?

The best baseline is chosen by its CV accuracy on the train split; it and the fine-tuned model
are then compared on the same test texts with McNemar's paired test (as claim 2 does).
"""

from dataclasses import replace

import pytest

from claims import evidence, figures, judges
from harness.sparse import FEATURES
from harness.stats import bootstrap_accuracy

CLAIM = "sparse_baselines"


def test_sparse_baselines(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    kinds = list(params["features"])
    unknown = [k for k in kinds if k not in FEATURES]
    if unknown or not kinds:
        pytest.fail(f"fixture {fx.name}: claims.sparse_baselines features must be a non-empty list of "
                    f"{list(FEATURES)}, got {kinds}")
    task = evidence.target_task(harness, fx)
    ft, best_correct, best, cv, first_runs = [], [], [], [], {}
    for seed in fx.seeds:
        ft.append(evidence.predictions(evidence.finetuned(harness, fx, seed)).correct)
        runs = {k: harness.sparse(task, k, folds=int(params["folds"]), seed=seed) for k in kinds}
        table = {k: {"accuracy": float(a.array("cv_accuracy").mean()),
                     "accuracy_sd": float(a.array("cv_accuracy").std(ddof=1)),
                     "f1_macro": float(a.array("cv_f1_macro").mean()),
                     "test_accuracy": float(a.meta["accuracy"]["test"])} for k, a in runs.items()}
        if not first_runs:
            first_runs = runs
        chosen = max(kinds, key=lambda k: table[k]["accuracy"])
        best.append(chosen)
        cv.append(table)
        best_correct.append(evidence.predictions(runs[chosen]).correct)
    verdict = judges.sparse_baselines(fx.name, fx.seeds, ft, best_correct, best, cv, params)
    ci = verdict.intervals
    bars = [("finetuned", float(ft[0].mean()), ci.get("finetuned_accuracy") if len(ft) == 1 else None,
             verdict.paper.get("finetuned_accuracy"))]
    for k in kinds:
        interval = bootstrap_accuracy(evidence.predictions(first_runs[k]).correct)
        bars.append((f"{k} + logreg", cv[0][k]["test_accuracy"], [interval.low, interval.high],
                     verdict.paper.get(f"{k}_accuracy")))
    verdict = replace(verdict, figures=(figures.accuracy_bars(
        f"Test accuracy, fine-tuned vs sparse baselines (seed {fx.seeds[0]})", bars),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
