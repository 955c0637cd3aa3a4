"""Sparse baselines (Hart, "Task-specific training"): does the fine-tuned transformer beat
bag-of-words logistic regression (TF-IDF, token counts, hashed counts), scored by k-fold
cross-validation as Hart did (10 folds)?

The best baseline is chosen by its CV accuracy on the train split; it and the fine-tuned model
are then compared on the same test texts with McNemar's paired test (as claim 2 does).
"""

from dataclasses import replace

from claims import evidence, figures, judges
from harness.analysis.stats import bootstrap_accuracy

CLAIM = "sparse_baselines"


def test_sparse_baselines(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    kinds = list(params["features"])
    task = evidence.target_task(pipeline, fx)
    labels, pred_ft, pred_best, best, cv, first_runs = [], [], [], [], [], {}
    for seed in fx.seeds:
        ft = evidence.predictions(evidence.finetuned(pipeline, fx, seed))
        runs = {k: pipeline.sparse(task, k, folds=params["folds"], seed=seed) for k in kinds}
        table = {k: {"accuracy": float(a.array("cv_accuracy").mean()),
                     "accuracy_sd": float(a.array("cv_accuracy").std(ddof=1)),
                     "f1_macro": float(a.array("cv_f1_macro").mean()),
                     "test_accuracy": evidence.predictions(a).accuracy} for k, a in runs.items()}
        if not first_runs:
            first_runs = runs
        chosen = max(kinds, key=lambda k: table[k]["accuracy"])
        best.append(chosen)
        cv.append(table)
        labels.append(ft.labels)
        pred_ft.append(ft.pred)
        pred_best.append(evidence.predictions(runs[chosen]).pred)
    verdict = judges.sparse_baselines(fx.name, fx.seeds, labels, pred_ft, pred_best, best, cv,
                                      evidence.chance(pipeline, fx), params)
    ci = verdict.intervals
    bars = [("finetuned", float((pred_ft[0] == labels[0]).mean()),
             ci["finetuned_accuracy"][0] if len(fx.seeds) == 1 else None, verdict.paper.get("finetuned_accuracy"))]
    for k in kinds:
        interval = bootstrap_accuracy(evidence.predictions(first_runs[k]).correct)
        bars.append((f"{k} + logreg", cv[0][k]["test_accuracy"], [interval.low, interval.high],
                     verdict.paper.get(f"{k}_accuracy")))
    verdict = replace(verdict, figures=(figures.accuracy_bars(
        f"Test accuracy, fine-tuned vs sparse baselines (seed {fx.seeds[0]})", bars),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
