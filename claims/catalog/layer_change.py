"""Merchant et al. 2020; Zhou and Srikumar 2022, section 4.5: fine-tuning changes the top layers
most.

The target task's texts (``split``, default test) encoded at every layer by the pre-trained and
by the fine-tuned encoder (``pooling``, default mean over tokens); per layer, linear CKA and RSA
(cosine distances, Pearson) between the two, and with ``measure = "spatial"`` Zhou and Srikumar's
own measure: the spatial similarity (Pearson of the DirectProbe label-pair distance vectors; 3 or
more labels). The fixture's ``measure`` decides: the similarity falls with depth, and with
``min_similarity`` stays above it (Zhou and Srikumar: > 0.5), tested on the similarities'
jackknife replicates over the texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import stats
from harness.errors import ConfigError

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_SAMPLING_MODEL,
    REPRODUCED,
    decide,
    depth_trend,
    intervals_of,
    measured_value,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    SPLIT,
    ClaimSpec,
    Param,
    alpha,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="layer_change",
    source="Merchant et al. 2020, Fig. 1; Zhou and Srikumar 2022, section 4.5",
    sentence=("fine-tuning changes the top layers most: each layer's similarity to the "
              "pre-trained encoder falls with depth (Zhou and Srikumar: yet stays above 0.5)"),
    decides=("per layer, the similarity (`measure`) of the pre-trained and the fine-tuned "
             "encoder on the same texts: **reproduced** when the last layer's is shown below the "
             "first's by more than `min_drop`, the depth/similarity (Pearson) correlation at "
             "most `max_trend` and (with `min_similarity`) no layer below it, each by a one-sided "
             "jackknife test over the texts (sentences) at `alpha`, on every seed; "
             "**contradicted** when one condition is shown to fail (at `alpha` / conditions x "
             "seeds); **inconclusive** otherwise, or where a similarity is undefined. The "
             "spatial similarity has no jackknife (a DirectProbe run per resample): its point "
             "values decide and the verdict says it is not calibrated"),
    params=(
        Param("measure", "str", "cka", "linear CKA, RSA, or Zhou and Srikumar's spatial similarity",
              choices=("cka", "rsa", "spatial")),
        Param("pooling", "str", "mean", "token pooling", choices=("first", "mean")),
        Param("split", "str", "test", "whose texts", choices=SPLIT),
        Param("min_drop", "float", 0.05, "first-layer minus last-layer similarity, at least", low=0.0),
        Param("max_trend", "float", -0.5, "Pearson correlation of depth and similarity, at most",
              low=-1.0, high=1.0),
        Param("min_similarity", "float", None, "every layer's similarity at least this",
              low=-1.0, high=1.0, optional=True),
        alpha(0.05),
    ),
    figures=("layer_similarity",),
    headline=('*_first_layer', '*_last_layer'),
    controls=("an encoder that was never trained", "a flat profile"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per measure (``cka``, ``rsa``, with ``measure = "spatial"`` also ``spatial``) and seed, the
    similarity of each layer in ``layers`` before and after fine-tuning; ``replicates``: the same on
    each jackknife sample of the texts (per measure and seed, samples x layers), or None (a point
    value: not calibrated)."""

    layers: Sequence[int]
    similarity: dict[str, Sequence[Sequence[float]]]
    replicates: dict[str, Sequence[np.ndarray]] | None = None


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    spatial = params["measure"] == "spatial"
    if spatial and task.num_labels < 3:
        raise ConfigError(f"{fx.path}: [claims.layer_change] measure = 'spatial': needs a task with 3 or more "
                          f"labels (a distance vector per label pair); {task.name} has {task.num_labels}")
    sims: dict[str, list] = {}
    replicates: dict[str, list] = {}
    layers: Sequence[int] = ()
    for seed in fx.seeds:
        tuned = evidence.finetuned(pipeline, fx, seed)
        measured = evidence.layer_similarity(pipeline, fx, tuned, task, split, params["pooling"], spatial=spatial)
        layers = measured.layers
        for name, values in measured.values.items():
            sims.setdefault(name, []).append(values)
        for name, reps in measured.replicates.items():
            replicates.setdefault(name, []).append(reps)
    return Evidence(fixture=fx.name, seeds=fx.seeds, layers=layers, similarity=sims, replicates=replicates)


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Similarity of each layer before and after fine-tuning (``similarity[measure]``: per seed,
    one value per layer in ``layers``) falls with depth: the first layer's minus the last's above
    ``min_drop``, the depth/similarity correlation (:func:`depth_trend`) at most ``max_trend`` and,
    with ``min_similarity``, every layer at or above it (Zhou and Srikumar: > 0.5).

    ``replicates[measure]``: per seed, the similarities on each leave-a-group-out sample of the
    texts (groups x layers; ``evidence.LayerSimilarity``). With them each condition is a one-sided
    jackknife t-test (:func:`decide`); without (the spatial similarity) the point values decide
    and the verdict says it is not calibrated."""
    seeds, layers, similarity, replicates = ev.seeds, ev.layers, ev.similarity, ev.replicates
    measure, alpha = params["measure"], params["alpha"]
    drop, trend_max, floor = params["min_drop"], params["max_trend"], params.get("min_similarity")
    reps = (replicates or {}).get(measure)
    checks = 2 + (len(layers) if floor is not None else 0)
    per_seed, trends, drops, notes = [], [], [], []
    intervals: dict[str, list] = {"drop": [], "depth_trend": []}
    pvalues: dict[str, float] = {}
    for i, sims in enumerate(similarity[measure]):
        sims = np.asarray(sims, float)
        if not np.isfinite(sims).all():
            notes.append(f"seed {seeds[i]}: the {measure} similarity is undefined at some layer")
            trends.append(float("nan"))
            drops.append(float("nan"))
            per_seed.append(INCONCLUSIVE)
            continue
        trends.append(depth_trend(layers, sims))
        drops.append(float(sims[0] - sims[-1]))
        if reps is None:
            holds = drops[-1] > drop and trends[-1] <= trend_max and (floor is None or bool((sims >= floor).all()))
            per_seed.append(REPRODUCED if holds else CONTRADICTED)
            continue
        r = np.asarray(reps[i], float)
        jd = stats.jackknife(drops[-1], r[:, 0] - r[:, -1])
        jt = stats.jackknife(trends[-1], [depth_trend(layers, row) for row in r])
        layer_j = [stats.jackknife(float(sims[k]), r[:, k]) for k in range(len(layers))] if floor is not None else []
        p_hold = [jd.p_above(drop), jt.p_below(trend_max)] + [j.p_above(floor) for j in layer_j]
        p_fail = [jd.p_below(drop), jt.p_above(trend_max)] + [j.p_below(floor) for j in layer_j]
        per_seed.append(decide(p_hold, p_fail, alpha, checks * len(seeds)))
        pvalues[seed_key("every condition holds (largest one-sided jackknife p)", seeds, i)] = max(p_hold)
        intervals["drop"].append(jd.interval(1 - 2 * alpha))
        intervals["depth_trend"].append(jt.interval(1 - 2 * alpha))
    measured: dict[str, Any] = {
        f"{measure}_first_layer": measured_value([s[0] for s in similarity[measure]]),
        f"{measure}_last_layer": measured_value([s[-1] for s in similarity[measure]]),
        "drop": measured_value(drops),
        "depth_trend_pearson": measured_value(trends),
    }
    if floor is not None:
        measured[f"{measure}_lowest_layer"] = measured_value([float(np.min(s)) for s in similarity[measure]])
    details = {f"{name} per layer {list(layers)}": [[float(v) for v in s] for s in sims]
               for name, sims in similarity.items()}
    name = {"cka": "linear CKA", "rsa": "RSA", "spatial": "DirectProbe spatial similarity"}.get(measure, measure)
    if reps is None:
        notes.append(NO_SAMPLING_MODEL.format(what=f"The {name}"))
    else:
        details["sampling"] = (f"delete-a-group jackknife over the texts (sentences for a token task), "
                               f"{np.asarray(reps[0]).shape[0]} groups; intervals at {1 - 2 * alpha:.0%}")
    criterion = (f"{name} between the pre-trained and the fine-tuned encoder, per layer: the first layer's "
                 f"minus the last's > {drop:g} and the depth/similarity correlation (Pearson) <= {trend_max:g}"
                 + (f"; every layer >= {floor:g}" if floor is not None else "")
                 + (", each shown by a one-sided jackknife test at alpha (contradicted: one shown to fail "
                    "at alpha / conditions x seeds)" if reps is not None else "") + ", on every seed")
    return verdict(SPEC, ev, per_seed, params, criterion=criterion, measured=measured,
                   details=details, notes=notes, pvalues=pvalues,
                   intervals={k: intervals_of(v) for k, v in intervals.items() if v})


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    sims = ev.similarity
    return (figures.layer_similarity(
        f"Similarity per layer, pre-trained vs fine-tuned ({params['pooling']} pooling, seed {ev.seeds[0]})",
        ev.layers, [("linear CKA", sims["cka"][0]), ("RSA (cosine, Pearson)", sims["rsa"][0])]
        + ([("DirectProbe spatial similarity", sims["spatial"][0])] if "spatial" in sims else [])),)
