"""Merchant et al. 2020, Fig. 3; Hart, last two layers: training only the top few layers recovers
most of what full fine-tuning gains over the frozen encoder.

The fixture's [fine_tune] protocol run with only the top k layers (and the head) trainable, for
each k in ``trainable_layers``; test accuracy against full fine-tuning and the frozen encoder.
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
    verdict,
)
from ..spec import (
    ClaimSpec,
    Param,
    alpha,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="partial_finetuning",
    source="Merchant et al. 2020, Fig. 3; Hart (last two layers)",
    sentence=("freezing the bottom layers during fine-tuning costs little: training only the top "
              "few layers recovers most of what full fine-tuning gains"),
    decides=("the fixture's [fine_tune] protocol with only the top k layers trainable, for each "
             "k in `trainable_layers`: **reproduced** when training the top `few` recovers at "
             "least `min_recovery` of full fine-tuning's test-accuracy gain over the frozen "
             "encoder on every seed, shown on the same test texts at `alpha` (nested outcomes, "
             "no text lost: the share of the gained texts kept, exact binomial; otherwise a score "
             "test of (top - frozen) - `min_recovery` (full - frozen)), **contradicted** when a "
             "seed shows less, **inconclusive** "
             "when the texts cannot tell or full fine-tuning gains less than `min_gain` (nothing "
             "to recover)"),
    params=(
        Param("trainable_layers", "int_list", [1, 2], "the k values to train", low=0),
        Param("few", "int", 2, "the k judged", low=0),
        Param("min_recovery", "float", 0.9, "share of the gain to recover", low=0.0),
        Param("min_gain", "float", 0.01, "full fine-tuning's gain below which nothing is judged",
              low=0.0, high=1.0),
        alpha(0.05),
    ),
    figures=("accuracy_by_layers",),
    headline=('recovery_top_*', 'full_accuracy'),
    controls=("no gain to recover (inconclusive)", "the top layers recover nothing (contradicted)"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each test text's correctness under full fine-tuning, the frozen encoder and, for
    each k (``partial[k]``), fine-tuning with only the top k layers trainable (the same texts)."""

    full: Sequence[np.ndarray]
    frozen: Sequence[np.ndarray]
    partial: dict[int, Sequence[np.ndarray]]


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task = evidence.target_task(pipeline, fx)
    ks = sorted(set(params["trainable_layers"]) | {params["few"]})

    def correct(art):  # per test text, from the sealed prediction arrays, not from the manifest's summary
        return evidence.predictions(art).correct

    return Evidence(
        fixture=fx.name, seeds=fx.seeds,
        full=[correct(evidence.finetuned(pipeline, fx, s)) for s in fx.seeds],
        frozen=[correct(evidence.frozen(pipeline, fx, s)) for s in fx.seeds],
        partial={k: [correct(pipeline.fine_tuned(fx.encoder, task, replace(fx.fine_tune, trainable_layers=k,
                                                                          snapshot_at=()), s))
                     for s in fx.seeds] for k in ks})


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Training only the top ``few`` layers recovers at least ``min_recovery`` of the accuracy that
    full fine-tuning gains over the frozen encoder: ``(acc_few - acc_frozen) / (acc_full -
    acc_frozen)``. Where full fine-tuning gains less than ``min_gain`` there is nothing to recover
    (inconclusive)."""
    seeds, full, frozen, partial = ev.seeds, ev.full, ev.frozen, ev.partial
    few, need, min_gain, alpha = params["few"], params["min_recovery"], params["min_gain"], params["alpha"]
    if few not in partial:
        raise ValueError(f"no outcomes for trainable_layers = {few}; have {sorted(partial)}")
    recovery, intervals, per_seed, notes, pvalues = recovery_by_seed(
        seeds, full, frozen, partial[few], need, min_gain, alpha,
        "full fine-tuning gains {gain:.4f} over frozen (< {min_gain:g}): nothing to recover")
    measured: dict[str, Any] = {"full_accuracy": measured_value(accuracies(full)), "frozen_accuracy": measured_value(accuracies(frozen))}
    for k in sorted(partial):
        measured[f"top_{k}_layers_accuracy"] = measured_value(accuracies(partial[k]))
    measured[f"recovery_top_{few}"] = measured_value(recovery)
    return verdict(SPEC, ev, per_seed, params, measured=measured, notes=notes,
                   pvalues=pvalues,
                   intervals={f"recovery_top_{few}": intervals_of(intervals)},
                   criterion=(f"training only the top {few} layer(s) recovers >= {need:.0%} of the full "
                              "fine-tuning gain over the frozen encoder (test accuracy, the same texts), "
                              f"shown by a one-sided paired test at {alpha:g} on every seed (Fieller); "
                              "shown below it on a seed: contradicted"))


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    return (figures.accuracy_by_layers(
        f"Test accuracy with only the top k layers trained (seed {ev.seeds[0]})",
        [(k, float(ev.partial[k][0].mean())) for k in sorted(ev.partial)], float(ev.full[0].mean()),
        float(ev.frozen[0].mean())),)
