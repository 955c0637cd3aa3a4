"""Hart, "Task-specific training": does the fine-tuned transformer beat bag-of-words logistic
regression (TF-IDF, token counts, hashed counts), scored by k-fold cross-validation as Hart did
(10 folds)?

The best baseline is chosen by its CV accuracy on the train split; it and the fine-tuned model
are then compared on the same test texts with McNemar's paired test (as accuracy_gap does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.analysis import stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPRODUCED,
    better_conclusion,
    combine,
    intervals_of,
    measured_value,
    paired_measured,
    paired_outcome,
    same_conclusion,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    ClaimSpec,
    Param,
    alpha,
    margin,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="sparse_baselines",
    source="Hart, 'Task-specific training: the benefits of fine-tuning BERT'",
    sentence={
        "finetuned_better": ("BERT models are about 3 points more accurate than sparse baselines "
                             "(TF-IDF, counts, hashing + logistic regression, 10-fold CV; accuracy "
                             "about 0.79) and almost 10 points better in F1 (about 0.74)"),
        "no_difference": "the fine-tuned model and the best sparse baseline are equally accurate",
    },
    decides=("the fine-tuned model against the best sparse baseline (chosen by k-fold CV "
             "accuracy on train) on the same test texts. `finetuned_better`: **reproduced** when "
             "one-sided McNemar has p < `alpha` and the paired bootstrap interval of the "
             "macro-F1 gain lies above 0; **contradicted** when the accuracy interval shows the "
             "baseline ahead or inside the margin, or the F1 gain's interval lies below 0; "
             "`no_difference`: equivalence (TOST) of the accuracies within `margin`"),
    params=(
        Param("paper_says", "str", "finetuned_better", "what the paper found",
              choices=("finetuned_better", "no_difference")),
        Param("features", "str_list", ["tfidf", "counts", "hashing"], "sparse feature kinds",
              choices=("tfidf", "counts", "hashing")),
        Param("folds", "int", 10, "cross-validation folds", low=2),
        alpha(0.01), margin(),
    ),
    figures=("accuracy_bars",),
    headline=('finetuned_accuracy', 'best_sparse_accuracy'),
    controls=("the fine-tuned model is the baseline itself (not reproduced)",),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, the test labels, the fine-tuned model's and the best sparse baseline's
    predictions (the same texts), the best baseline's features (``best``) and every baseline's
    scores (``cv[seed][features]``: ``accuracy``, ``accuracy_sd`` and ``f1_macro`` by CV on train,
    ``test_accuracy``); ``first_seed_correct``: each baseline's correctness per test text on the
    first seed (the figure); ``chance``: the majority-class rate."""

    labels: Sequence[np.ndarray]
    finetuned: Sequence[np.ndarray]
    best_sparse: Sequence[np.ndarray]
    best: Sequence[str]
    cv: Sequence[dict[str, dict[str, float]]]
    chance: float
    first_seed_correct: dict[str, np.ndarray] = field(default_factory=dict)


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
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
    return Evidence(fixture=fx.name, seeds=fx.seeds, labels=labels, finetuned=pred_ft, best_sparse=pred_best,
                    best=best, cv=cv, chance=evidence.chance(pipeline, fx),
                    first_seed_correct={k: evidence.predictions(a).correct for k, a in first_runs.items()})


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """The fine-tuned model against the best sparse baseline on the same test texts.

    The baseline is chosen per seed by its k-fold CV accuracy on the train split, never by its
    test accuracy. ``finetuned_better`` (Hart): more accurate (one-sided McNemar) and better in
    macro-F1 (paired bootstrap interval of the gain above 0); ``no_difference``: equivalent
    accuracies within ``margin``. ``cv[seed_index][features]`` holds that features' ``accuracy``,
    ``accuracy_sd``, ``f1_macro`` and ``test_accuracy``."""
    seeds, labels, pred_finetuned, pred_best_sparse = ev.seeds, ev.labels, ev.finetuned, ev.best_sparse
    best, cv, chance = ev.best, ev.cv, ev.chance
    alpha, margin, says, folds = params["alpha"], params["margin"], params["paper_says"], params["folds"]
    correct_ft = [p == y for p, y in zip(pred_finetuned, labels, strict=True)]
    correct_sp = [p == y for p, y in zip(pred_best_sparse, labels, strict=True)]
    results = [paired_outcome(a, b, alpha, margin) for a, b in zip(correct_ft, correct_sp, strict=True)]
    f1 = [stats.paired_bootstrap_f1_difference(y, a, b, level=1 - 2 * alpha)
          for y, a, b in zip(labels, pred_finetuned, pred_best_sparse, strict=True)]
    per_seed, pvalues, notes = [], {}, []
    for i, (r, g) in enumerate(zip(results, f1, strict=True)):
        if says == "no_difference":
            premise = stats.above_chance(correct_ft[i], chance, 0.05) < alpha
            per_seed.append(same_conclusion(r["tost"], premise, len(seeds)))
            pvalues[seed_key("TOST finetuned = sparse", seeds, i)] = r["tost"].pvalue
            continue
        looks = 2 * len(seeds)  # accuracy and F1 may each contradict, on any seed: each at alpha / looks
        acc = better_conclusion(r, "a", alpha, looks)
        strict = stats.paired_bootstrap_f1_difference(labels[i], pred_finetuned[i], pred_best_sparse[i],
                                                      level=1 - 2 * alpha / looks)  # the same resamples (seeded)
        f1_part = REPRODUCED if g.low > 0 else CONTRADICTED if strict.high < 0 else INCONCLUSIVE
        if acc != f1_part:
            notes.append(f"seed {seeds[i]}: accuracy {acc}, macro-F1 gain {f1_part}")
        per_seed.append(CONTRADICTED if CONTRADICTED in (acc, f1_part) else combine([acc, f1_part]))
        pvalues[seed_key("McNemar one-sided, finetuned better than sparse", seeds, i)] = r["p_a_greater"]
        pvalues[seed_key("bootstrap, macro-F1 gain above 0", seeds, i)] = g.p_above_zero
    measured, intervals, details = paired_measured("finetuned", "best_sparse", results, alpha,
                                                    says == "no_difference")
    measured["f1_macro_gain"] = measured_value([g.estimate for g in f1])
    intervals["f1_macro_gain"] = intervals_of([(g.low, g.high) for g in f1])
    for kind in cv[0]:
        measured[f"cv_accuracy_{kind}"] = measured_value([c[kind]["accuracy"] for c in cv])
        measured[f"cv_f1_macro_{kind}"] = measured_value([c[kind]["f1_macro"] for c in cv])
    details["best sparse baseline (by CV accuracy), per seed"] = list(best)
    details["sparse baselines per seed (CV on train; test accuracy)"] = [
        {kind: {k: round(v, 4) for k, v in row.items()} for kind, row in c.items()} for c in cv]
    if says == "no_difference":
        rule = (f"equivalence of fine-tuned and best sparse accuracy: the {1 - 2 * alpha:.0%} paired interval "
                f"inside (-{margin:g}, {margin:g}) (reproduced), wholly outside (contradicted)")
    else:
        rule = (f"the fine-tuned model vs the best sparse baseline (chosen by {folds}-fold CV on train): "
                f"one-sided McNemar p < {alpha:g} and the {1 - 2 * alpha:.0%} bootstrap interval of the "
                "macro-F1 gain above 0 (reproduced); the accuracy advantage below 0 or inside the margin, "
                "or the F1 gain below 0 (contradicted)")
    return verdict(SPEC, ev, per_seed, params, criterion=rule, measured=measured,
                   intervals=intervals, details=details, pvalues=pvalues, notes=notes)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    ci = v.intervals
    bars = [("finetuned", float((ev.finetuned[0] == ev.labels[0]).mean()),
             ci["finetuned_accuracy"][0] if len(ev.seeds) == 1 else None, v.paper.get("finetuned_accuracy"))]
    for k, correct in ev.first_seed_correct.items():
        interval = stats.bootstrap_accuracy(correct)
        bars.append((f"{k} + logreg", ev.cv[0][k]["test_accuracy"], [interval.low, interval.high],
                     v.paper.get(f"{k}_accuracy")))
    return (figures.accuracy_bars(f"Test accuracy, fine-tuned vs sparse baselines (seed {ev.seeds[0]})", bars),)
