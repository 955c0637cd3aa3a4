"""Merchant et al. 2020, Fig. 4: a model cut after layer k and fine-tuned approaches the full
model's score by the middle layers.

The fixture's [fine_tune] protocol on the encoder cut after each layer k in ``layers`` (the top
layers dropped: harness.training.protocols.truncate_after), test accuracy against the full
model's and chance (the majority class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import evidence, figures
from ..judges import Evidence as Base
from ..judges import (
    accuracies,
    intervals_of,
    measured_value,
    recovery_by_seed,
    run_value,
    verdict,
)
from ..spec import (
    ClaimSpec,
    Param,
    alpha,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="truncated_finetuning",
    source="Merchant et al. 2020, Fig. 4",
    sentence=("a model cut after layer k and fine-tuned approaches the full model's score by the "
              "middle layers (layer 6 of 12 for MNLI and SQuAD)"),
    decides=("the fixture's [fine_tune] protocol on the encoder cut after each layer k in `layers`: "
             "**reproduced** when the model cut after `by_layer` (default: half the layers) recovers "
             "at least `min_recovery` of the full model's test-accuracy gain over chance on every "
             "seed, shown on the same test texts (one-sided score test at `alpha` of the mean of "
             "(cut - chance) - `min_recovery` (full - chance) on the values it can take; the "
             "interval of the share is the shares that test keeps), **contradicted** when a seed "
             "shows less, **inconclusive** when the texts "
             "cannot tell or the full model gains less than `min_gain` over chance"),
    params=(
        Param("layers", "int_list", [1, 2, 3], "the k values to fine-tune", low=1),
        Param("by_layer", "int", None, "the k judged (default: half the encoder's layers)", low=1,
              optional=True),
        Param("min_recovery", "float", 0.9, "share of the full model's gain over chance", low=0.0),
        Param("min_gain", "float", 0.05, "the full model's gain over chance below which nothing is judged",
              low=0.0, high=1.0),
        alpha(0.05),
    ),
    figures=("accuracy_by_layers",),
    headline=('recovery_cut_after_*', 'full_accuracy'),
    controls=("a cut model at chance (contradicted)", "a full model at chance (inconclusive)"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each test text's correctness under the full fine-tuned model and, for each k
    (``truncated[k]``), the model cut after layer k and fine-tuned; ``by_layer``: the k judged;
    ``chance``: the majority-class rate."""

    full: Sequence[np.ndarray]
    truncated: dict[int, Sequence[np.ndarray]]
    by_layer: int
    chance: float


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task = evidence.target_task(pipeline, fx)
    full = [evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds]
    by_layer = params["by_layer"] or max(1, evidence.num_layers(full[0]) // 2)
    ks = sorted(set(params["layers"]) | {by_layer})
    truncated = {k: [evidence.predictions(pipeline.fine_tuned(
        fx.encoder, task, replace(fx.fine_tune, truncate_layers=k, snapshot_at=()), seed)).correct
        for seed in fx.seeds] for k in ks}
    return Evidence(fixture=fx.name, seeds=fx.seeds, full=[evidence.predictions(art).correct for art in full],
                    truncated=truncated, by_layer=by_layer, chance=evidence.chance(pipeline, fx))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """The model cut after ``by_layer`` recovers at least ``min_recovery`` of the full model's test
    accuracy gain over chance, ``(acc_k - chance) / (acc_full - chance)``, shown on the same test
    texts (``full``, ``truncated``: per-text outcomes per seed; ``recovery_by_seed``); inconclusive where
    the full model gains less than ``min_gain``."""
    seeds, full, truncated, chance, by_layer = ev.seeds, ev.full, ev.truncated, ev.chance, ev.by_layer
    need, min_gain, alpha = params["min_recovery"], params["min_gain"], params["alpha"]
    if by_layer not in truncated:
        raise ValueError(f"no outcomes for a model cut after layer {by_layer}; have {sorted(truncated)}")
    recovery, intervals, per_seed, notes, pvalues = recovery_by_seed(
        seeds, full, [chance] * len(seeds), truncated[by_layer], need, min_gain, alpha,
        "the full model gains {gain:.4f} over chance (< {min_gain:g}): nothing to judge")
    measured: dict[str, Any] = {"full_accuracy": measured_value(accuracies(full)), "chance": run_value(chance)}
    for k in sorted(truncated):
        measured[f"cut_after_{k}_accuracy"] = measured_value(accuracies(truncated[k]))
    measured[f"recovery_cut_after_{by_layer}"] = measured_value(recovery)
    return verdict(SPEC, ev, per_seed, params, measured=measured, notes=notes,
                   pvalues=pvalues,
                   intervals={f"recovery_cut_after_{by_layer}": intervals_of(intervals)},
                   criterion=(f"the model cut after layer {by_layer} and fine-tuned recovers >= {need:.0%} of the "
                              "full model's test-accuracy gain over chance (the same texts), shown by a one-sided "
                              f"paired test at {alpha:g} on every seed (Fieller); shown below it on a seed: "
                              "contradicted"))


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    return (figures.accuracy_by_layers(
        f"Test accuracy of the encoder cut after layer k, fine-tuned (seed {ev.seeds[0]}; Merchant et al., Fig. 4); "
        "dashed: the full model and chance",
        [(k, float(ev.truncated[k][0].mean())) for k in sorted(ev.truncated)], float(ev.full[0].mean()), ev.chance,
        mode="truncated"),)
