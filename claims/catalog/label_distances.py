"""Zhou and Srikumar 2022, sections 4.2 and 4.3: fine-tuning pushes label clusters apart.

DirectProbe (harness/directprobe/engine.py) on the embeddings recorded at the fine-tuning
checkpoints (``snapshot_at`` in the fixture's [fine_tune]): where the first space is not linearly
separable the number of clusters strictly decreases, and where the spaces are separable each
label's minimum distance to the other labels grows, raw and divided by the space's spread (the
centred RMS distance to the mean: a space that merely scaled or shifted does not count; shown on
the replicates of a delete-a-group jackknife over the texts, or a token task's sentences), and the
label centroids move apart. With ``train_test_similarity = true`` (tasks with 3 or more labels),
the spatial similarity of the train and test representations falls after fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness import directprobe
from harness.analysis import geometry, stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    DIRECTPROBE_POINT_VALUES,
    INCONCLUSIVE,
    REPRODUCED,
    DistanceReplicates,
    Snapshot,
    decide,
    measured_value,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    ClaimSpec,
    Param,
    alpha,
)
from ..verdict import Verdict


def _grows(before: np.ndarray, after: np.ndarray, growth: float) -> bool:
    return bool(np.all(np.asarray(after) > np.asarray(before) * (1 + growth)))


SPEC = ClaimSpec(
    name="label_distances",
    source="Zhou and Srikumar 2022, sections 4.2 and 4.3",
    sentence=("the number of DirectProbe clusters decreases after fine-tuning (small models are "
              "non-linear before); on linearly separable representations every label's minimum "
              "distance to the other labels increases over fine-tuning: clusters move apart, "
              "rather than the space simply scaling"),
    decides=("DirectProbe on the first and the last fine-tuning checkpoint. Where the first "
             "space is not linearly separable, the clusters must strictly decrease; where the "
             "last is separable, every label's minimum distance must be shown to grow by more "
             "than `min_growth`, raw and divided by the space's spread (`scale`; one-sided "
             "jackknife tests at `alpha` over the texts, or a token task's sentences, DirectProbe's "
             "distances recomputed on each replicate; one shown not to: the part fails), and the label "
             "centroids must move apart (margins that grow as clusters tighten around fixed "
             "centroids: **inconclusive**); with "
             "`train_test_similarity`, the train/test spatial similarity must fall. "
             "**contradicted** when a part that applies fails, **reproduced** when every part "
             "that applies holds, **inconclusive** when none applies or the jackknife cannot "
             "tell"),
    params=(
        Param("min_growth", "float", 0.01, "relative growth of a distance that counts as growth",
              low=0.0),
        Param("scale", "str", "spread",
              "`spread`: a distance grows when it grows raw and divided by the space's spread (the "
              "centred RMS distance to the mean: free of translation and of scale); `raw`: the "
              "encoder's units alone (a space that merely grew passes)",
              choices=("spread", "raw")),
        Param("train_test_similarity", "bool", False,
              "also require the train/test spatial similarity to fall (3 or more labels)"),
        Param("parts", "str_list", ["clusters", "distances"],
              "which of the paper's findings to judge: the cluster count (4.2) and the distances "
              "(4.3; Zhou and Srikumar leave TREC-50 out of 4.3: it is not linearly separable)",
              choices=("clusters", "distances")),
        alpha(0.05),
    ),
    figures=("distance_trajectories", "centroid_paths"),
    headline=('clusters_first', 'clusters_last'),
    needs=("snapshots",),
    controls=("a space scaled by 1.05 (not reproduced)", "a translated space", "a label-independent direction removed", "clusters tightened around fixed centroids", "an unchanged non-separable space",
              "distances that shrink", "an encoder that was never trained"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, DirectProbe on each checkpoint (``trajectories[seed]``: :class:`Snapshot` s, the
    first before fine-tuning), the labels' names, the first and the last checkpoint's
    :class:`DistanceReplicates` (None where a space is not separable, or not judged), the train/test
    spatial similarity before and after fine-tuning (or None), and the label centroids at each
    checkpoint of the first seed (the figure)."""

    label_names: Sequence[str]
    trajectories: Sequence[Sequence[Snapshot]]
    similarity: Sequence[tuple[float, float]] | None = None
    replicates: Sequence[DistanceReplicates | None] | None = None
    centroid_path: Sequence[np.ndarray] = ()


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task = evidence.target_task(pipeline, fx)
    y = task[fx.fine_tune.snapshot_split].labels
    # every DirectProbe run of the claim first, so that the harness runs them side by side
    jobs, checkpoints = [], {}
    for seed in fx.seeds:
        art = evidence.finetuned(pipeline, fx, seed)
        checkpoints[seed] = evidence.snapshots(art, fx.fine_tune.snapshot_layers[-1])
        jobs += [(x, y) for _, x in checkpoints[seed]]
        if params["train_test_similarity"]:
            # the labels of both splits only (a rare label may be missing from one), so that the two
            # label-pair distance vectors compare the same pairs
            shared = np.intersect1d(task["train"].labels, task["test"].labels)
            keep = {s: np.isin(task[s].labels, shared) for s in ("train", "test")}
            jobs += [(pipeline.embedding_matrix(model, task, s, max_length=fx.fine_tune.max_length)[keep[s]],
                      task[s].labels[keep[s]]) for model in (fx.encoder, art) for s in ("train", "test")]
    probed = iter(pipeline.directprobe_many(jobs))
    sentences = evidence.sentences_of(task, fx.fine_tune.snapshot_split)  # the sampling unit of a token task
    trajectories, replicates, similarity = [], [], [] if params["train_test_similarity"] else None
    for seed in fx.seeds:
        traj, results = [], []
        for step, x in checkpoints[seed]:
            results.append(next(probed))
            traj.append(Snapshot.of(step, x, y, results[-1].clusters.num_clusters, results[-1].distances.min_per_label()))
        trajectories.append(traj)
        replicates.append(evidence.distance_replicates(pipeline, checkpoints[seed][0][1], checkpoints[seed][-1][1], y,
                                                       results[0], results[-1], sentences)
                          if "distances" in params["parts"] else None)
        if similarity is not None:
            pretrained = [next(probed).distances for _ in ("train", "test")]
            tuned = [next(probed).distances for _ in ("train", "test")]
            similarity.append((directprobe.spatial_similarity(*pretrained), directprobe.spatial_similarity(*tuned)))
    return Evidence(fixture=fx.name, seeds=fx.seeds, label_names=evidence.present_labels(task, fx.fine_tune.snapshot_split),
                    trajectories=trajectories, similarity=similarity, replicates=replicates,
                    centroid_path=[geometry.centroids(x, y) for _, x in checkpoints[fx.seeds[0]]])


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """From the first to the last checkpoint, per seed, each part that applies must hold:

    - clusters (4.2): where the first space is not linearly separable, strictly fewer at the end;
    - distances (4.3): where both spaces are separable, every label's minimum distance grows by
      more than ``min_growth``, raw *and* divided by the space's spread (``scale = "spread"``; a
      space that scaled about its centre grows raw only, one that lost a label-independent
      direction grows relative only); ``scale = "raw"``, raw alone;
    - with ``similarity``: the train/test spatial similarity falls after fine-tuning.

    A part that fails contradicts. Where the distances grow but the label centroids did not move
    apart (the mean nearest-centroid gap does not grow, raw and relative: the clusters tightened
    around centroids that stayed put), the seed is inconclusive: DirectProbe's margins grew, the
    labels did not move apart. When neither geometric part applies the seed is inconclusive.

    With ``replicates`` (per seed, the first and the last checkpoint's :class:`DistanceReplicates`;
    None where a space is not separable) the distances part is decided by one-sided jackknife tests
    at ``alpha``, as in :func:`cross_task_distances`: it holds where every kept label's growth is
    shown above ``min_growth`` in each view, fails where one is shown below it at ``alpha`` / (tests
    x seeds), and is undecided (the seed inconclusive) in between."""
    seeds, label_names, trajectories, similarity, replicates = ev.seeds, ev.label_names, ev.trajectories, \
        ev.similarity, ev.replicates
    num_labels = len(label_names)
    growth, scale = params["min_growth"], params["scale"]
    alpha = params.get("alpha", 0.05)
    judged = params.get("parts", ["clusters", "distances"])
    per_seed, notes = [], []
    pvalues: dict[str, float] = {}
    for i, (seed, traj) in enumerate(zip(seeds, trajectories, strict=True)):
        first, last = traj[0], traj[-1]
        parts: dict[str, bool] = {}
        undecided = False
        if first.num_clusters > num_labels and "clusters" in judged:
            parts["clusters strictly decrease"] = last.num_clusters < first.num_clusters
        tightened = False
        if "distances" in judged and first.num_clusters == num_labels and last.num_clusters == num_labels:
            raw = _grows(first.min_distance, last.min_distance, growth)
            rel = _grows(first.relative(), last.relative(), growth)
            key = "every label's distance grows" + (" (raw and relative to the spread)" if scale == "spread"
                                                    else " (raw)")
            parts[key] = raw and (rel or scale == "raw")
            rep = replicates[i] if replicates is not None else None
            if rep is not None:
                kept = rep.kept()
                if not kept.all():
                    notes.append(f"seed {seed}: {int((~kept).sum())} label(s) left out of the jackknife's tests "
                                 f"(their items fall in one group): "
                                 f"{[label_names[k] for k in np.flatnonzero(~kept)]}")
                p_hold, p_fail = [], []
                for view in ([(first.spread, last.spread), None] if scale == "spread" else [None]):
                    value, reps = rep.changes(kept, view)
                    for k, v in enumerate(value):
                        j = stats.jackknife(float(v), reps[:, k], correct_bias=False)
                        p_hold.append(j.p_above(growth))
                        p_fail.append(j.p_below(growth))
                decided = decide(p_hold, p_fail, alpha, len(p_fail) * len(seeds))
                pvalues[seed_key(f"every label's distance grows by more than {growth:g} (largest one-sided "
                                  "jackknife p)", seeds, i)] = max(p_hold)
                parts[key] = decided == REPRODUCED
                raw = rel = parts[key]
                if decided == INCONCLUSIVE:
                    del parts[key]
                    undecided = True
                    notes.append(f"seed {seed}: the labels' growth is neither shown above {growth:g} for every "
                                 f"label nor shown below it for one (jackknife at alpha = {alpha:g})")
            if scale == "spread" and raw != rel and rep is None:
                notes.append(f"seed {seed}: every label's distance grows {'raw' if raw else 'relative to the spread'} "
                             f"but not {'relative to the spread (the space scaled)' if raw else 'raw (the spread shrank)'}")
            if first.centroid_gap and last.centroid_gap and raw and (rel or scale == "raw"):
                gap0, gap1 = float(np.mean(first.centroid_gap)), float(np.mean(last.centroid_gap))
                apart = gap1 > gap0 * (1 + growth) and (scale == "raw" or
                                                        gap1 / last.spread > gap0 / first.spread * (1 + growth))
                if not apart:
                    tightened = True
                    notes.append(f"seed {seed}: the margins grew but the label centroids did not move apart "
                                 f"(mean nearest-centroid gap {gap0:.4g} -> {gap1:.4g}, spread {first.spread:.4g} -> "
                                 f"{last.spread:.4g}): the clusters tightened; not counted as moving apart")
        elif "distances" in judged and last.num_clusters != num_labels:
            notes.append(f"seed {seed}: the last checkpoint is not linearly separable "
                         f"({last.num_clusters} clusters for {num_labels} labels): distances not judged")
        if not parts:
            if not undecided:
                notes.append(f"seed {seed}: neither part applies (separable before, not after)")
            per_seed.append(INCONCLUSIVE)
            continue
        if similarity is not None:
            b, a = similarity[i]
            parts["train/test spatial similarity falls"] = bool(a < b)
        failed = [k for k, ok in parts.items() if not ok]
        if failed:
            notes.append(f"seed {seed}: fails: {', '.join(failed)}")
        per_seed.append(CONTRADICTED if failed else INCONCLUSIVE if tightened or undecided else REPRODUCED)
    measured: dict[str, Any] = {
        "clusters_first": measured_value([t[0].num_clusters for t in trajectories]),
        "clusters_last": measured_value([t[-1].num_clusters for t in trajectories]),
    }
    for k, name in enumerate(label_names):
        for unit, get in (("", lambda s: np.asarray(s.min_distance, float)), ("/spread", Snapshot.relative)):
            measured[f"min_distance{unit}_first[{name}]"] = measured_value([get(t[0])[k] for t in trajectories])
            measured[f"min_distance{unit}_last[{name}]"] = measured_value([get(t[-1])[k] for t in trajectories])
    measured["spread_first"] = measured_value([t[0].spread for t in trajectories])
    measured["spread_last"] = measured_value([t[-1].spread for t in trajectories])
    if all(t[0].centroid_gap and t[-1].centroid_gap for t in trajectories):
        measured["mean_centroid_gap_first"] = measured_value([float(np.mean(t[0].centroid_gap)) for t in trajectories])
        measured["mean_centroid_gap_last"] = measured_value([float(np.mean(t[-1].centroid_gap)) for t in trajectories])
    if similarity is not None:
        measured["train_test_similarity_before"] = measured_value([s[0] for s in similarity])
        measured["train_test_similarity_after"] = measured_value([s[1] for s in similarity])
    details: dict[str, Any] = {
        "trajectory (step: clusters, raw min distance per label, spread)": [
            {str(s.step): [s.num_clusters, list(s.min_distance), s.spread] for s in traj} for traj in trajectories
        ],
        "space": "the snapshot layer (texts: first token; words: sub-words averaged), DirectProbe (exact LP overlap checks)",
        "spread": "the centred RMS distance of the vectors to their mean (free of translation)",
    }
    criterion = ("first vs last fine-tuning checkpoint: "
                 + ("DirectProbe clusters strictly decrease where the first space is not linearly separable"
                    if "clusters" in judged else "")
                 + ("; " if len(judged) == 2 else "")
                 + ("where both are separable, every label's minimum distance "
                    + ("grows raw and divided by the space's spread " if scale == "spread" else "(raw units) grows ")
                    + f"by more than {growth:.0%}, and the label centroids move apart (else inconclusive)"
                    if "distances" in judged else "")
                 + ("; the train/test spatial similarity falls" if similarity else "") + ", on every seed")
    if replicates is not None and any(r is not None for r in replicates):
        details["sampling"] = ("the distances: delete-a-group jackknife over the texts (sentences for a token "
                               f"task), {next(r for r in replicates if r is not None).before_replicates.shape[0]} "
                               "groups, DirectProbe's distances recomputed on each")
    if "clusters" in judged or ("distances" in judged and not (replicates and any(r is not None for r in replicates))):
        notes.append(DIRECTPROBE_POINT_VALUES)
    return verdict(SPEC, ev, per_seed, params, criterion=criterion,
                   measured=measured, details=details, notes=notes, pvalues=pvalues)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    scale = params["scale"]
    drawn = [figures.distance_trajectories(
        "Each label's minimum distance to the other labels over fine-tuning"
        + (", divided by the space's spread" if scale == "spread" else "") + " (Zhou and Srikumar, Fig. 2)",
        ev.label_names,
        [(seed, [s.step for s in traj], [list(s.scaled(scale)) for s in traj])
         for seed, traj in zip(ev.seeds, ev.trajectories, strict=True)])]
    if ev.centroid_path:
        drawn.append(figures.centroid_paths(f"Label centroids over fine-tuning, 2-D PCA (seed {ev.seeds[0]}; "
                                            "Zhou and Srikumar, Fig. 3)", ev.label_names, ev.centroid_path))
    return tuple(drawn)
