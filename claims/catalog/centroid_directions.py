"""Zhou and Srikumar 2022, section 4.5, Fig. 5: lower layers' label centroids move little and in a
few shared directions; higher layers' move more and in more directions.

Per layer (0, the embeddings, to the last; from 1 for a text task's first token, which is the same
vector for every text at layer 0), each label's centroid on the ``split`` items under the
fine-tuned minus the pre-trained encoder. The judge turns the movements into two scale-free
numbers per layer: their mean length over the pre-trained layer's spread (the centred RMS distance
to the mean, free of the layer's common offset), and the number of directions they span
(participation ratio), with their jackknife replicates over the items (sentences, for a token
task). Fig. 5's 2-D PCA is drawn beside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import geometry, stats

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
    name="centroid_directions",
    source="Zhou and Srikumar 2022, section 4.5 (Fig. 5)",
    sentence=("lower layers' label centroids move little and in a few shared directions; higher "
              "layers' move more and in more directions"),
    decides=("per layer, each label's centroid on the test items under the fine-tuned minus the "
             "pre-trained encoder: the movement (mean length over the pre-trained layer's spread, "
             "the centred RMS distance to the mean) and the number of directions the movements "
             "span (participation ratio of their singular values, scale-free): **reproduced** when "
             "both are shown to rise with depth (Pearson of depth and each above `min_trend`, "
             "one-sided jackknife tests over the items, sentences for a token task, at `alpha`) on "
             "every seed, **contradicted** when either is shown not to rise (at or below 0, at "
             "`alpha` / 2 x seeds), **inconclusive** otherwise"),
    params=(
        Param("split", "str", "test", "whose items", choices=SPLIT),
        Param("min_trend", "float", 0.5, "Pearson correlation of depth with each measure, at least",
              low=0.0, high=1.0, low_open=True),
        alpha(0.05),
    ),
    figures=("layer_similarity", "centroid_pca"),
    headline=('depth_trend_movement', 'depth_trend_directions'),
    controls=("every label moves by the same shift at every layer (not reproduced)",
              "movements that shrink with depth (contradicted)"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """``movements[seed][layer]``: each label's centroid under the fine-tuned minus the pre-trained
    encoder (labels x dim), for each layer in ``layers``; ``spreads[layer]``: the pre-trained
    layer's spread; ``replicates[seed]``: the movement's and the span's jackknife replicates
    (samples x layers each), or None (point values, not calibrated); ``labels``: the labels present
    in the split, of which ``labels_measured`` are measured (a label whose items all fall in one
    jackknife group cannot be)."""

    layers: Sequence[int]
    movements: Sequence[Sequence[np.ndarray]]
    spreads: Sequence[float]
    replicates: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
    labels: int | None = None
    labels_measured: int | None = None


def gather(pipeline, fx) -> Evidence:
    from harness.pipeline.build import is_token_task

    params = fx.claim(SPEC.name)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    y = task[split].labels
    tuned = [evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds]
    layers = list(range(0 if is_token_task(task) else 1, evidence.num_layers(tuned[0]) + 1))

    def reps(model):
        art = pipeline.embeddings(model, task, split, layers=layers, pooling="first", max_length=fx.fine_tune.max_length)
        return [art.array(f"layer_{k}") for k in layers]

    before = reps(fx.encoder)
    sentences = evidence.sentences_of(task, split)  # the sampling unit of a token task
    moved = [geometry.centroid_movement(before, reps(art), y, sentences) for art in tuned]
    return Evidence(fixture=fx.name, seeds=fx.seeds, layers=layers, movements=[m.movements for m in moved],
                    spreads=moved[0].spreads, replicates=[(m.size_replicates, m.span_replicates) for m in moved],
                    labels=len(np.unique(y)), labels_measured=len(moved[0].labels))


def centroid_measures(movements: Sequence[np.ndarray], spreads: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per layer: the movement (mean length of the label centroids' shifts over the pre-trained
    layer's spread) and the directions they span (``geometry.participation_ratio``)."""
    size = [float(np.linalg.norm(d, axis=1).mean()) / n for d, n in zip(movements, spreads, strict=True)]
    return size, [geometry.participation_ratio(d) for d in movements]


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """``movements[seed][layer]``: each label's centroid under the fine-tuned minus the pre-trained
    encoder (labels x dim); ``spreads[layer]``: the pre-trained layer's spread (the centred RMS
    distance to the mean: free of the large common offset BERT-family layers carry). Per
    layer: the movement (mean row length / spread) and the directions (participation ratio);
    both must rise with depth (:func:`depth_trend`, Pearson, at least ``min_trend``) on every seed.

    ``replicates[seed]``: the movement and the directions (groups x layers) on each
    leave-a-group-out sample of the items (sentences, for a token task;
    ``harness.analysis.geometry.centroid_movement``). With them each trend is a one-sided jackknife test: reproduced
    when both are shown above ``min_trend`` at ``alpha``, contradicted when either is shown at or
    below 0 at ``alpha / (2 x seeds)``; without, the point values decide (the verdict says so)."""
    seeds, layers, movements, spreads, replicates = ev.seeds, ev.layers, ev.movements, ev.spreads, ev.replicates
    least, alpha = params["min_trend"], params["alpha"]
    per_seed, notes = [], []
    size, span, trend_size, trend_span = [], [], [], []
    pvalues: dict[str, float] = {}
    intervals: dict[str, list] = {"depth_trend_movement": [], "depth_trend_directions": []}
    for i, seed in enumerate(seeds):
        m, pr = centroid_measures(movements[i], spreads)
        size.append(m)
        span.append(pr)
        ts, tp = depth_trend(layers, m), depth_trend(layers, pr)
        trend_size.append(ts)
        trend_span.append(tp)
        if replicates is None:
            per_seed.append(REPRODUCED if ts >= least and tp >= least
                            else CONTRADICTED if ts <= 0 or tp <= 0 else INCONCLUSIVE)
        else:
            rep_size, rep_span = (np.asarray(r, float) for r in replicates[i])
            js = stats.jackknife(ts, [depth_trend(layers, row) for row in rep_size])
            jp = stats.jackknife(tp, [depth_trend(layers, row) for row in rep_span])
            per_seed.append(decide([js.p_above(least), jp.p_above(least)], [js.p_below(0), jp.p_below(0)],
                                    alpha, 2 * len(seeds)))
            pvalues[seed_key("both rise (largest one-sided jackknife p)", seeds, i)] = max(
                js.p_above(least), jp.p_above(least))
            intervals["depth_trend_movement"].append(js.interval(1 - 2 * alpha))
            intervals["depth_trend_directions"].append(jp.interval(1 - 2 * alpha))
        if per_seed[-1] == CONTRADICTED:
            notes.append(f"seed {seed}: does not rise with depth: "
                         + ", ".join(n for n, t in (("movement", ts), ("directions", tp)) if t <= least))
    measured: dict[str, Any] = {
        "movement_first_layer": measured_value([m[0] for m in size]), "movement_last_layer": measured_value([m[-1] for m in size]),
        "directions_first_layer": measured_value([p[0] for p in span]), "directions_last_layer": measured_value([p[-1] for p in span]),
        "depth_trend_movement": measured_value(trend_size), "depth_trend_directions": measured_value(trend_span),
    }
    details = {f"movement per layer {list(layers)} (mean centroid shift / the pre-trained layer's spread)":
               [[round(v, 4) for v in m] for m in size],
               f"directions per layer {list(layers)} (participation ratio)": [[round(v, 3) for v in p] for p in span]}
    if replicates is None:
        notes.append(NO_SAMPLING_MODEL.format(what="The centroids' movement"))
    else:
        details["sampling"] = (f"delete-a-group jackknife over the items (sentences for a token task), "
                               f"{np.asarray(replicates[0][0]).shape[0]} groups; intervals at {1 - 2 * alpha:.0%}")
    if ev.labels is not None and ev.labels_measured is not None and ev.labels_measured < ev.labels:
        details["labels left out"] = (f"{ev.labels - ev.labels_measured} label(s) whose items all fall in one of "
                                      "the jackknife's groups (too rare to measure how they moved)")
    return verdict(SPEC, ev, per_seed, params, measured=measured, details=details,
                   notes=notes, pvalues=pvalues, intervals={k: intervals_of(v) for k, v in intervals.items() if v},
                   criterion=(f"per layer, the label centroids' movement and the number of directions it spans "
                              f"both rise with depth (Pearson of depth and each >= {least:g}"
                              + (", shown by one-sided jackknife tests at alpha; contradicted when either is "
                                 "shown <= 0 at alpha / (2 x seeds)" if replicates is not None else "")
                              + "), on every seed"))


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    size, span = centroid_measures(ev.movements[0], ev.spreads)
    labels = ev.labels or len(ev.movements[0][0])
    return (figures.layer_similarity(f"Label centroids per layer (seed {ev.seeds[0]}): mean shift over the layer's "
                                     "spread, and the directions the shifts span over the number of labels", ev.layers,
                                     [("movement", size), ("directions / labels", [s / labels for s in span])]),
            figures.centroid_pca(f"Label centroid movements per layer, 2-D PCA (seed {ev.seeds[0]}; "
                                 "Zhou and Srikumar, Fig. 5)", ev.layers, ev.movements[0]))
