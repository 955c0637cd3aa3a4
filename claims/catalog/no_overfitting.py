"""Bogaert et al. 2023, Table 1: fine-tuning does not overfit.

For the fine-tuned and the frozen model, training and test accuracy stay close: each gap's
interval within the fixture's tolerance, on models that learned something (above chance) and on a
test split that does not repeat the training texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPRODUCED,
    accuracy_interval,
    intervals_of,
    measured_value,
    run_value,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import ClaimSpec, Param, alpha, chance_floor
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="no_overfitting",
    source="Bogaert et al. 2023, Table 1",
    sentence=("fine-tuning is not (always) overfitting: train and test accuracy are close for "
              "the fine-tuned and for the frozen model (Allocine: 97.49 / 97.07 fine-tuned, "
              "93.77 / 94.31 frozen)"),
    decides=("per model and seed, the train - test accuracy gap with its (1 - 2 alpha) Newcombe "
             "interval: "
             "**reproduced** when the whole interval is at most `tolerance` for both models, "
             "**contradicted** when it lies above `tolerance` for either; **inconclusive** "
             "otherwise, when a model is not above chance by `min_above_chance`, or when more "
             "than `max_overlap` of the test texts also occur in train"),
    params=(
        Param("tolerance", "float", 0.05, "the largest train - test accuracy gap that counts as close",
              low=0.0, high=1.0),
        Param("max_overlap", "float", 0.1, "the largest share of test texts that may also occur in train",
              low=0.0, high=1.0),
        chance_floor(), alpha(0.05),
    ),
    figures=("accuracy_bars",),
    headline=('finetuned_gap', 'frozen_gap'),
    controls=("two chance-level models (inconclusive)", "a model scored on its own training texts",
              "a real train - test gap (contradicted)"),
)


@dataclass(frozen=True)
class SplitOutcomes:
    """Per-text correctness of one model on the train and the test split."""

    train: np.ndarray
    test: np.ndarray

    def gap_interval(self, alpha: float) -> tuple[float, float, float]:
        """Train minus test accuracy, with its (1 - 2 alpha) Newcombe interval (independent splits;
        the normal interval used before said "close" 11-13% of the time at a gap equal to the
        tolerance, with 120-250 test texts)."""
        ci = stats.newcombe_difference(self.train, self.test, level=1 - 2 * alpha)
        return ci.estimate, ci.low, ci.high


def text_overlap(train_texts: Sequence[str], test_texts: Sequence[str]) -> float:
    """Fraction of test texts (after whitespace and case normalisation) that occur in train."""
    def norm_(t: str) -> str:
        return " ".join(t.lower().split())

    seen = {norm_(t) for t in train_texts}
    return float(np.mean([norm_(t) in seen for t in test_texts])) if test_texts else 0.0


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, the fine-tuned and the frozen model's correctness on each train and test text;
    ``test_overlap``: the share of test texts also in train (:func:`text_overlap`); ``chance``:
    the test split's majority-class rate."""

    finetuned: Sequence[SplitOutcomes]
    frozen: Sequence[SplitOutcomes]
    test_overlap: float
    chance: float


def gather(pipeline, fx) -> Evidence:
    task = evidence.target_task(pipeline, fx)

    def outcomes(art) -> SplitOutcomes:
        return SplitOutcomes(train=evidence.predictions(art, "train").correct,
                             test=evidence.predictions(art, "test").correct)

    return Evidence(fixture=fx.name, seeds=fx.seeds,
                    finetuned=[outcomes(evidence.finetuned(pipeline, fx, s)) for s in fx.seeds],
                    frozen=[outcomes(evidence.frozen(pipeline, fx, s)) for s in fx.seeds],
                    test_overlap=text_overlap(task["train"].texts, task["test"].texts),
                    chance=evidence.chance(pipeline, fx))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Train and test accuracy are close for both models: the (1 - 2 alpha) interval of each gap
    lies at or below ``tolerance`` (reproduced) or, for some model, above it (contradicted: each of
    the 2 x seeds gaps judged at alpha / (2 x seeds), Bonferroni). The premise: the test
    texts are unseen (at most ``max_overlap`` also in train) and each model is above chance
    (``chance``: the majority-class rate) by ``min_above_chance``; else inconclusive."""
    seeds, finetuned, frozen, test_overlap, chance = ev.seeds, ev.finetuned, ev.frozen, ev.test_overlap, ev.chance
    tol, max_overlap = params["tolerance"], params["max_overlap"]
    alpha, floor = params["alpha"], params["min_above_chance"]
    per_seed, notes, pvalues = [], [], {}
    gaps: dict[str, list[tuple[float, float, float]]] = {"finetuned": [], "frozen": []}
    if test_overlap > max_overlap:
        notes.append(f"{test_overlap:.1%} of the test texts also occur in train (allowed: {max_overlap:.0%}): "
                     "the test split does not measure generalisation")
    for i, seed in enumerate(seeds):
        models = {"finetuned": finetuned[i], "frozen": frozen[i]}
        for name, m in models.items():
            gaps[name].append(m.gap_interval(alpha))
        learned = {name: stats.above_chance(m.test, chance, floor) < alpha for name, m in models.items()}
        for name, ok in learned.items():
            if not ok:
                notes.append(f"seed {seed}: the {name} model's test accuracy {np.mean(models[name].test):.3f} "
                             f"is not above chance ({chance:.3f}) + {floor:g}: it learned too little to "
                             "say anything about overfitting")
        highs = [gaps[n][-1][2] for n in models]
        for name, m in models.items():  # the tests that must all hold: each model's gap below the tolerance
            pvalues[seed_key(f"Newcombe, {name} gap < {tol:g}", seeds, i)] = stats.newcombe_p_below(m.train, m.test, tol)
        # a contradiction needs one of 2 x seeds gaps shown above the tolerance: each at alpha / looks
        lows = [m.gap_interval(alpha / (2 * len(seeds)))[1] for m in models.values()]
        if test_overlap > max_overlap or not all(learned.values()):
            per_seed.append(INCONCLUSIVE)
        elif all(h <= tol for h in highs):
            per_seed.append(REPRODUCED)
        elif any(lo > tol for lo in lows):
            per_seed.append(CONTRADICTED)
        else:
            per_seed.append(INCONCLUSIVE)
    measured: dict[str, Any] = {}
    intervals: dict[str, Any] = {}
    for name, models in (("finetuned", finetuned), ("frozen", frozen)):
        measured[f"{name}_train"] = measured_value([float(np.mean(m.train)) for m in models])
        measured[f"{name}_test"] = measured_value([float(np.mean(m.test)) for m in models])
        measured[f"{name}_gap"] = measured_value([g[0] for g in gaps[name]])
        intervals[f"{name}_gap"] = intervals_of([g[1:] for g in gaps[name]])
    for name, models in (("finetuned", finetuned), ("frozen", frozen)):
        for split in ("train", "test"):
            intervals[f"{name}_{split}"] = accuracy_interval([getattr(m, split) for m in models])
    measured["test_texts_also_in_train"] = run_value(test_overlap)
    measured["chance"] = run_value(chance)
    return verdict(SPEC, ev, per_seed, params, measured=measured, intervals=intervals, pvalues=pvalues,
                   criterion=(f"train - test accuracy gap, {1 - 2 * alpha:.0%} interval: at most {tol:g} for the "
                              f"fine-tuned and the frozen model (reproduced), above it for either (contradicted); "
                              f"both models above chance + {floor:g}; at most {max_overlap:.0%} of test texts seen in train"),
                   details={"gap intervals are": f"Newcombe's hybrid score interval, {1 - 2 * alpha:.0%}, train and test "
                                                   "splits independent"},
                   notes=notes,
    )


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    bars = []
    for name, runs in (("finetuned", ev.finetuned), ("frozen", ev.frozen)):
        for split in ("train", "test"):
            correct = [getattr(r, split) for r in runs]
            bars.append((f"{name} {split}", float(correct[0].mean()),
                         v.intervals[f"{name}_{split}"][0] if len(correct) == 1 else None,
                         v.paper.get(f"{name}_{split}")))
    return (figures.accuracy_bars(f"Train and test accuracy (seed {ev.seeds[0]}; paper's figure as a tick)", bars),)
