"""Zhou and Srikumar 2022, Table 5: fine-tuning on another task moves the target task's label
clusters; an opposing task brings them closer.

DirectProbe (harness/directprobe/engine.py) on the target task's texts (``split``, default train),
last layer, first token, under the pre-trained encoder and under the encoder fine-tuned on the
other task: each label's minimum distance to the other labels, before and after, on all the items
and on each replicate of a delete-a-group jackknife over them (the sentences of a token task).
Distances are judged raw and divided by each space's spread (``scale``; the centred RMS distance
to the mean), so that a space that merely grew or shifted does not count as clusters moving.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import geometry, stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    DIRECTPROBE_POINT_VALUES,
    INCONCLUSIVE,
    REPRODUCED,
    DistanceReplicates,
    decide,
    intervals_of,
    measured_value,
    paired_outcome,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    SPLIT,
    ClaimSpec,
    Param,
    alpha,
    check_probe_alphas,
    margin,
    probe_params,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="cross_task_distances",
    source="Zhou and Srikumar 2022, Table 5 (section 4.4)",
    sentence={
        "lower": ("fine-tuning on an opposing task (POS) lowers the target task's (PS-fxn) label "
                  "distances: every label, mean -1.68"),
        "higher": ("fine-tuning on a related task (PS-role) raises the target task's (PS-fxn) "
                   "label distances"),
    },
    decides=("DirectProbe on the target task's `split` under the pre-trained encoder and under "
             "the encoder fine-tuned on the other task, distances raw and divided by each space's "
             "spread (`scale`): **reproduced** when the mean relative change of the labels' "
             "minimum distances (every label, with `all_labels`; as the paper by default) is shown "
             "beyond `min_change` in the `paper_says` direction, raw and relative, on every seed "
             "(one-sided jackknife tests at `alpha` over the texts, or a token task's sentences, "
             "DirectProbe's distances recomputed on each replicate), **contradicted** when the mean "
             "is shown the other way by as much in both views, **inconclusive** in "
             "between, where raw and relative disagree, or when a space is not linearly "
             "separable (distances undefined). With `probe`, Zhou and Srikumar's probe on the "
             "target task's items under the encoder fine-tuned on the target task and on the other "
             "task: for `lower` the first must beat the second (one-sided McNemar at `alpha`); "
             "for `higher` the second must be shown not to fall below the first by more than "
             "`margin` (TOST's interval; the first significantly better contradicts, neither "
             "shown is inconclusive)"),
    params=(
        Param("paper_says", "str", "lower", "the direction the paper found",
              choices=("lower", "higher")),
        Param("all_labels", "bool", None, "every label must move, not just the mean; left out, as "
              "the paper: every label for `lower` (POS: 'every label'), the mean for `higher`",
              optional=True),
        Param("min_change", "float", 0.01, "relative change that counts as movement", low=0.0),
        Param("split", "str", "train", "the target task's split to probe", choices=SPLIT),
        Param("scale", "str", "spread", "as for label_distances", choices=("spread", "raw")),
        Param("probe", "bool", False,
              "also judge the probe accuracies (Table 5): on the target task's test items, a probe "
              "on the encoder fine-tuned on the target task beats one on the encoder fine-tuned on "
              "the other task (`lower`), or not (`higher`: the related task comes close)"),
        *probe_params(), margin(), alpha(0.05),
    ),
    figures=("distance_bars",),
    headline=('mean_relative_change', 'mean_relative_change_raw'),
    needs=("other_task",),
    check=check_probe_alphas,
    controls=("nothing moved", "moved the wrong way", "a space that only grew", "a translated space",
              "an encoder fine-tuned at lr 1e-12"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each target label's minimum DirectProbe distance under the pre-trained encoder
    (``before``) and under the encoder fine-tuned on the other task (``after``), each space's spread
    (before, after), whether each is linearly separable, the jackknife's
    :class:`DistanceReplicates` (or None), and with the fixture's ``probe`` the probe's per-item
    correctness under the target-tuned and the other-tuned encoder (``probes``; ``sentences``: each
    probe item's sentence, or None). ``own``: the encoder fine-tuned on the target task itself
    (first seed: its distances, spread and separability; Table 5's third column); ``tasks``: the
    target and the other task's names."""

    label_names: Sequence[str]
    before: Sequence[Sequence[float]]
    after: Sequence[Sequence[float]]
    spreads: Sequence[tuple[float, float]] | None = None
    separable: Sequence[tuple[bool, bool]] | None = None
    probes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
    sentences: np.ndarray | None = None
    replicates: Sequence[DistanceReplicates | None] | None = None
    own: np.ndarray | None = None
    own_spread: float | None = None
    own_separable: bool | None = None
    tasks: tuple[str, str] = ("target task", "other task")


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    other = evidence.other_task(pipeline, fx)
    y, max_length = task[split].labels, fx.fine_tune.max_length
    x0 = pipeline.embedding_matrix(fx.encoder, task, split, max_length=max_length)
    xs = [pipeline.embedding_matrix(pipeline.fine_tuned(fx.encoder, other, fx.fine_tune, seed), task, split,
                                    max_length=max_length) for seed in fx.seeds]
    own = pipeline.embedding_matrix(evidence.finetuned(pipeline, fx, fx.seeds[0]), task, split, max_length=max_length)
    *probed, own_probed = pipeline.directprobe_many([(x, y) for x in [x0, *xs, own]])  # side by side
    probes = None
    if params["probe"]:
        models = [(evidence.finetuned(pipeline, fx, seed), pipeline.fine_tuned(fx.encoder, other, fx.fine_tune, seed))
                  for seed in fx.seeds]  # (target-tuned, other-tuned) per seed, probed side by side
        results = evidence.zhou_probes(pipeline, [m for pair in models for m in pair], task, params)
        probes = [(results[2 * i].test_correct, results[2 * i + 1].test_correct) for i in range(len(fx.seeds))]
    sentences = evidence.sentences_of(task, split)  # the sampling unit of a token task
    before = probed[0].distances.min_per_label()  # the pre-trained encoder does not depend on the seed
    return Evidence(
        fixture=fx.name, seeds=fx.seeds, label_names=evidence.present_labels(task, split),
        before=[before] * len(xs), after=[p.distances.min_per_label() for p in probed[1:]],
        spreads=[(geometry.spread(x0), geometry.spread(x)) for x in xs],
        separable=[(probed[0].clusters.linearly_separable, p.clusters.linearly_separable) for p in probed[1:]],
        probes=probes, sentences=evidence.probe_sentences(task, params) if probes else None,
        replicates=[evidence.distance_replicates(pipeline, x0, x, y, probed[0], p, sentences)
                    for x, p in zip(xs, probed[1:], strict=True)],
        own=own_probed.distances.min_per_label(), own_spread=geometry.spread(own),
        own_separable=own_probed.clusters.linearly_separable, tasks=(task.name, other.name))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Each target label's minimum DirectProbe distance under the pre-trained encoder (``before``,
    per seed) and under the encoder fine-tuned on the other task (``after``), raw and divided by
    each space's spread (``spreads``: before, after; the centred RMS distance to the mean).

    ``paper_says = "lower"`` (an opposing task): reproduced when the mean relative change (every
    label's, with ``all_labels``; left out, as the paper: every label for ``lower``, the mean for
    ``higher``) is below ``-min_change`` on every seed, raw *and* relative to the spread (``scale =
    "spread"``; ``"raw"``: raw alone); ``"higher"``: above ``min_change``. Contradicted when it
    moves the other way by as much (raw and relative); inconclusive in between, where raw and
    relative disagree, or where a space is not linearly separable (``separable``).

    ``probes`` (per seed: the probe's per-item correctness under the encoder fine-tuned on the
    target task, and under the one fine-tuned on the other task): for ``lower`` the first must beat
    the second (one-sided McNemar at ``alpha``), for ``higher`` the second must be shown not to fall
    below the first by ``margin`` (the upper end of the paired interval of first - second below it;
    the first significantly better contradicts; neither shown: inconclusive). The seed's conclusion
    is the worse of the two parts.

    With ``replicates`` (per seed, :class:`DistanceReplicates`) each condition is a one-sided
    jackknife test at ``alpha`` instead of a point value: the change (every kept label's, or their
    mean) beyond ``min_change`` in each view (reproduced: all shown, intersection-union), the mean
    beyond it the other way in both views at ``alpha / seeds`` (contradicted). The estimate is the
    change measured on all the items, not bias-corrected: a minimum distance is an extreme of
    the sample, which only grows as items are left out, and the bias correction said "reproduced"
    30% of the time at the boundary, where the uncorrected test holds its level (the jackknife's
    standard error of an extreme overstates it: claims/calibration.py measures how much)."""
    seeds, label_names, before, after, spreads, separable = ev.seeds, ev.label_names, ev.before, ev.after, \
        ev.spreads, ev.separable
    probes, clusters, replicates = ev.probes, ev.sentences, ev.replicates
    least, scale = params["min_change"], params["scale"]
    every = params.get("all_labels")
    every = (params["paper_says"] == "lower") if every is None else every
    sign = -1.0 if params["paper_says"] == "lower" else 1.0
    raw_b, raw_a = [np.asarray(b, float) for b in before], [np.asarray(a, float) for a in after]
    if scale == "spread" and not spreads:
        raise ValueError('scale = "spread" needs the spreads of both spaces')
    spreads = spreads or [(1.0, 1.0)] * len(raw_b)
    rel_b = [b / sb for b, (sb, _) in zip(raw_b, spreads, strict=True)]
    rel_a = [a / sa for a, (_, sa) in zip(raw_a, spreads, strict=True)]
    b_, a_ = (rel_b, rel_a) if scale == "spread" else (raw_b, raw_a)

    def rel_change(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (a - b) / np.where(b > 0, b, np.inf)

    changes = [a - b for b, a in zip(b_, a_, strict=True)]
    relative = [rel_change(b, a) for b, a in zip(b_, a_, strict=True)]
    relative_raw = [rel_change(b, a) for b, a in zip(raw_b, raw_a, strict=True)]
    per_seed, notes = [], []
    pvalues: dict[str, float] = {}
    intervals: list[tuple[float, float]] = []
    alpha = params["alpha"]
    for i, (r, rr) in enumerate(zip(relative, relative_raw, strict=True)):
        views = [r, rr] if scale == "spread" else [r]
        moved = all(bool((sign * v > least).all()) if every else sign * v.mean() > least for v in views)
        against = all(sign * v.mean() < -least for v in views)
        if replicates is not None and separable is not None and not all(separable[i]):
            intervals.append((math.nan, math.nan))
        elif replicates is not None and replicates[i] is not None:
            rep = replicates[i]
            kept = rep.kept()
            if not kept.all():
                notes.append(f"seed {seeds[i]}: {int((~kept).sum())} label(s) left out of the jackknife's tests "
                             f"(their items fall in one group): {[label_names[k] for k in np.flatnonzero(~kept)]}")
            p_hold, p_fail = [], []
            for view_spreads in ([spreads[i], None] if scale == "spread" else [None]):
                value, reps = rep.changes(kept, view_spreads)
                mean = stats.jackknife(float(np.mean(value)), reps.mean(1), correct_bias=False)
                if view_spreads is not None or scale == "raw":
                    intervals.append(mean.interval(1 - 2 * alpha))
                p_fail.append(mean.p_below(-least) if sign > 0 else mean.p_above(least))
                if every:
                    p_hold += [float(stats.jackknife(float(v), reps[:, k], correct_bias=False).p_above(least)
                                     if sign > 0 else
                                     stats.jackknife(float(v), reps[:, k], correct_bias=False).p_below(-least))
                               for k, v in enumerate(value)]
                else:
                    p_hold.append(mean.p_above(least) if sign > 0 else mean.p_below(-least))
            pvalues[seed_key(f"{'every label' if every else 'the mean'}: relative change of the minimum distance "
                              f"{'below' if sign < 0 else 'above'} {sign * least:+g} (largest one-sided jackknife "
                              "p)", seeds, i)] = max(p_hold)
            # contradicted: the mean shown the other way in every view (the largest p of those)
            part = decide(p_hold, [max(p_fail)], alpha, len(seeds))
            moved, against = part == REPRODUCED, part == CONTRADICTED
        if separable is not None and not all(separable[i]):
            notes.append(f"seed {seeds[i]}: a space is not linearly separable (pre-trained, cross-task: "
                         f"{list(separable[i])}): label distances are undefined there")
            per_seed.append(INCONCLUSIVE)
        elif moved:
            per_seed.append(REPRODUCED)
        elif against:
            per_seed.append(CONTRADICTED)
        else:
            if every and all(sign * v.mean() > least for v in views):
                notes.append(f"seed {seeds[i]}: the mean moves as the paper says, but not every label: "
                             f"{int(np.sum(sign * r > least))} of {r.size} do (the paper: every label)")
            if scale == "spread" and np.sign(r.mean()) != np.sign(rr.mean()):
                notes.append(f"seed {seeds[i]}: the mean change is {rr.mean():+.1%} raw and {r.mean():+.1%} "
                             "relative to the spread: the space's scale, not the labels, decides the direction")
            per_seed.append(INCONCLUSIVE)
    if probes is not None:
        for i, (own, other) in enumerate(probes):
            r = paired_outcome(np.asarray(own), np.asarray(other), alpha, params["margin"], clusters)
            if params["paper_says"] == "lower":
                pvalues[seed_key("McNemar target-tuned > other-tuned probe", seeds, i)] = r["p_a_greater"]
            else:  # the other-tuned probe within the margin of the target-tuned one (non-inferiority)
                pvalues[seed_key("target-tuned - other-tuned probe < margin", seeds, i)] = r["tost"].p_high
            if params["paper_says"] == "lower":
                part = (CONTRADICTED if r["p_b_greater"] < alpha / len(seeds) else
                        REPRODUCED if r["p_a_greater"] < alpha else INCONCLUSIVE)
            else:  # not worse: shown by equivalence's interval (own - other below the margin), not assumed
                part = (CONTRADICTED if r["p_a_greater"] < alpha / len(seeds) else REPRODUCED if r["tost"].high < r["tost"].margin
                        else INCONCLUSIVE)
            if part != REPRODUCED:
                notes.append(f"seed {seeds[i]}: probe accuracy {r['acc_a']:.3f} (fine-tuned on the target task) vs "
                             f"{r['acc_b']:.3f} (on the other task): {part}")
            order = [CONTRADICTED, INCONCLUSIVE, REPRODUCED]
            per_seed[i] = order[min(order.index(per_seed[i]), order.index(part))]
    measured: dict[str, Any] = {"mean_change": measured_value([float(c.mean()) for c in changes]),
                                "mean_relative_change": measured_value([float(r.mean()) for r in relative]),
                                "mean_relative_change_raw": measured_value([float(r.mean()) for r in relative_raw])}
    if probes is not None:
        measured["probe_accuracy_target_tuned"] = measured_value([float(np.mean(a)) for a, _ in probes])
        measured["probe_accuracy_other_tuned"] = measured_value([float(np.mean(b)) for _, b in probes])
    for k, name in enumerate(label_names):
        measured[f"min_distance_pretrained[{name}]"] = measured_value([float(b[k]) for b in b_])
        measured[f"min_distance_cross_task[{name}]"] = measured_value([float(a[k]) for a in a_])
    expect = params["paper_says"]
    criterion = (("distances raw and divided by the space's spread (both must move): " if scale == "spread"
                  else "raw distances (not scale-free): ")
                 + f"{'every label' if every else 'the mean over labels'} of the target task's minimum "
                 f"DirectProbe distance to the other labels is {expect}, by more than {least:.0%} "
                 "relative, under the encoder fine-tuned on the other task than under the pre-trained one, "
                 "on every seed (the other way by as much: contradicted)"
                 + ("; and the probe on the target-tuned encoder " + ("beats" if expect == "lower" else
                    "does not beat") + " the probe on the other-tuned one (one-sided McNemar)"
                    if probes is not None else ""))
    details: dict[str, Any] = {"change per label": [[float(v) for v in c] for c in changes]}
    details["spread (pre-trained, cross-task)"] = [list(m) for m in spreads]
    if not (replicates and any(r is not None for r in replicates)):
        notes.append(DIRECTPROBE_POINT_VALUES)
    else:
        details["sampling"] = (f"delete-a-group jackknife over the texts (sentences for a token task), "
                               f"{next(r for r in replicates if r).before_replicates.shape[0]} groups, DirectProbe's distances "
                               f"recomputed on each; interval of the mean relative change at {1 - 2 * alpha:.0%}")
    if ev.own_separable is not None and separable:
        details["linearly separable (pre-trained, target-tuned, other-tuned)"] = [
            separable[0][0], ev.own_separable, separable[0][1]]
    return verdict(SPEC, ev, per_seed, params, criterion=criterion,
                   measured=measured, details=details, notes=notes, pvalues=pvalues,
                   intervals={"mean_relative_change": intervals_of(intervals)} if intervals else None)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    if ev.own is None or ev.spreads is None:
        return ()
    target, other = ev.tasks
    scaled = params["scale"] == "spread"
    b0, a0 = (np.asarray(ev.before[0]) / ev.spreads[0][0], np.asarray(ev.after[0]) / ev.spreads[0][1]) if scaled \
        else (ev.before[0], ev.after[0])
    t0 = ev.own / (ev.own_spread if scaled else 1.0)
    table = {name: {"pre-trained": round(float(b), 4), f"fine-tuned on {target}": round(float(t), 4),
                    f"fine-tuned on {other}": round(float(a), 4)}
             for name, b, t, a in zip(ev.label_names, b0, t0, a0, strict=True)}
    unit = " / spread" if scaled else ""
    rows = [[name, *cells.values(), cells[f"fine-tuned on {other}"] - cells["pre-trained"]]
            for name, cells in table.items()]
    rows.append(["mean", *[float(np.mean([r[k] for r in rows])) for k in range(1, 5)]])
    tables = [figures.table(f"Zhou and Srikumar's Table 5 on {target}: each label's minimum distance{unit} "
                            f"(seed {ev.seeds[0]})", ["label", "pre-trained", f"fine-tuned on {target}",
                                                      f"fine-tuned on {other}", "change (other - pre-trained)"],
                            rows)]
    if ev.probes is not None:
        tables.append(figures.table(f"Probe accuracy on {target}'s test items (seed {ev.seeds[0]})",
                                    ["encoder fine-tuned on", "accuracy"],
                                    [[target, float(np.mean(ev.probes[0][0]))],
                                     [other, float(np.mean(ev.probes[0][1]))]]))
    return (figures.distance_bars(
        f"Target labels' minimum distance{unit} (seed {ev.seeds[0]}; Zhou and Srikumar, Table 5)", ev.label_names,
        [("pre-trained", b0), (f"fine-tuned on {target}", t0), (f"fine-tuned on {other} (the other task)", a0)]),
        *tables)
