"""Judges: from evidence to a conclusion about the paper, as pure functions.

A judge takes what a claim measured (per seed) and the fixture's claim parameters (checked and
completed by ``claims/spec.py``) and returns a :class:`~reports.schema.Verdict` whose
``conclusion`` is one of

- ``reproduced``: the evidence supports the paper's sentence;
- ``contradicted``: the evidence goes against it;
- ``inconclusive``: the data cannot decide (too few texts, an interval that straddles a margin,
  models that learned nothing, a quantity that is undefined on this space).

Whether the fixture's own expectation held (``expect``, default ``reproduced``) is separate: the
verdict's ``status``. Nothing here trains or loads a model, so tests feed judges broken evidence
(the negative controls) directly.

The rules every judge follows (equivalence for "no difference", one-sided tests for "better
than", the sampling unit, translation- and scale-free geometry, several seeds, Holm over the run)
are written once, in ``docs/claims.md``; each judge's wrong-conclusion rate at its boundary is
measured in ``claims/calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.analysis import geometry, stats

from .spec import LEGACY, ClaimSpec
from .verdict import Verdict

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"


def combine(per_seed: Sequence[str]) -> str:
    """One conclusion from the seeds' (see the module docstring)."""
    if per_seed and all(c == REPRODUCED for c in per_seed):
        return REPRODUCED
    if CONTRADICTED in per_seed and REPRODUCED not in per_seed:
        return CONTRADICTED
    return INCONCLUSIVE


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What a claim measured on one fixture: the base of every claim's evidence record (its
    module's ``Evidence``, with named fields, built by keyword only: a record cannot take the
    frozen model's outcomes for the fine-tuned one's by position)."""

    fixture: str
    seeds: tuple[int, ...] = field(default=(0,))

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))


def verdict(spec: ClaimSpec, ev: Evidence, per_seed: Sequence[str], params: dict[str, Any], *, criterion: str,
            measured: dict[str, Any], details: dict[str, Any] | None = None,
            intervals: dict[str, Any] | None = None, pvalues: dict[str, float] | None = None,
            notes: Sequence[str] = (), deciding: bool = True) -> Verdict:
    """The verdict of the claim ``spec`` on the evidence ``ev``: the seeds' conclusions combined
    (:func:`combine`), the paper's sentence, the headline numbers. ``deciding``: every p in
    ``pvalues`` is a test that must hold for the verdict to reproduce (one per seed or layer: the
    verdict's p is their largest, an intersection-union test), so the largest is the verdict's
    deciding p, Holm-adjusted over the run (``claims.plugin.with_holm``)."""
    details = dict(details or {})
    decided: dict[str, Any] = {}
    finite = {k: p for k, p in (pvalues or {}).items() if p == p}
    if deciding and finite and "alpha" in params:
        key = max(finite, key=finite.get)
        decided = {"test": key, "p": float(finite[key]), "alpha": float(params["alpha"])}
    if len(per_seed) > 1:
        details["conclusion per seed"] = list(per_seed)
        if REPRODUCED in per_seed and CONTRADICTED in per_seed:
            details["seeds disagree"] = "some seeds reproduce the claim and others contradict it"
    if notes:
        details["notes"] = list(notes)
    return Verdict(claim=spec.name, fixture=ev.fixture, seeds=ev.seeds, conclusion=combine(per_seed),
                   criterion=criterion, measured=measured, expected=params.get("expect", REPRODUCED),
                   statement=spec.statement(params), paper=dict(params.get("paper", {})),
                   details=details, intervals=intervals or {}, pvalues=pvalues or {}, deciding=decided,
                   headline=spec.headline_keys(measured))


def _verdict(claim: str, fixture: str, seeds: Sequence[int], per_seed: Sequence[str], params: dict[str, Any],
             **kw: Any) -> Verdict:
    """:func:`verdict` for the claims not yet in a module of their own (``claims/catalog/``)."""
    return verdict(LEGACY[claim], Evidence(fixture=fixture, seeds=tuple(seeds)), per_seed, params, **kw)


def _value(values: Sequence[float]) -> dict[str, Any]:
    """A quantity measured on each seed, in the one shape every measured value has:
    ``{"value": mean over the seeds, "sd": sample sd (None for one seed), "per_seed": [...]}``."""
    s = stats.summarize(values)
    return {"value": s.mean, "sd": s.sd if s.n > 1 else None, "per_seed": list(s.values)}


def _single(value: float) -> dict[str, Any]:
    """A quantity of the whole run (a test across seeds, the chance level): ``per_seed`` None."""
    return {"value": float(value), "sd": None, "per_seed": None}


def _interval(per_seed: Sequence[Sequence[float]]) -> list[list[float]]:
    """Intervals in their one shape: ``[[low, high], ...]``, one per seed (or one for the run)."""
    return [[float(lo), float(hi)] for lo, hi in per_seed]


def _seed_key(name: str, seeds: Sequence[int], i: int) -> str:
    return name if len(seeds) == 1 else f"{name} (seed {seeds[i]})"


def accuracy_interval(correct: Sequence[np.ndarray]) -> Any:
    """Percentile-bootstrap 95% CI of the accuracy, per seed (see :func:`_interval`)."""
    cis = [stats.bootstrap_accuracy(c) for c in correct]
    return _interval([(ci.low, ci.high) for ci in cis])


# --------------------------------------------------------------------------------------------
# Paired comparison of two classifiers on the same test texts


def paired_outcome(correct_a: np.ndarray, correct_b: np.ndarray, alpha: float, margin: float,
                   clusters: np.ndarray | None = None) -> dict[str, Any]:
    """Everything a paired comparison reports: one-sided McNemar both ways, TOST at ``margin``,
    two-sided McNemar, the paper's z and the pooled z, bootstrap intervals. ``clusters``: the
    sentence of each item (token tasks), whose words are not independent: the deciding tests
    (one-sided McNemar, TOST) then count sentences' worth of evidence (``stats.design_effect``)."""
    n = len(correct_a)
    acc_a, acc_b = float(np.mean(correct_a)), float(np.mean(correct_b))
    mc = stats.mcnemar(correct_a, correct_b)
    z_paper = stats.two_proportion_z(acc_a, acc_b, n, form="paper")
    z_pooled = stats.two_proportion_z(acc_a, acc_b, n, form="pooled")
    ci_a, ci_b = stats.bootstrap_accuracy(correct_a), stats.bootstrap_accuracy(correct_b)
    reported = {
        "acc_a": acc_a, "acc_b": acc_b, "n": n,
        "mcnemar_p": mc.pvalue, "mcnemar_method": mc.method, "discordant": [mc.b, mc.c],
        "z_paper": z_paper.z, "p_paper_z": z_paper.pvalue,
        "z_pooled": z_pooled.z, "p_pooled_z": z_pooled.pvalue,
        "ci_a": [ci_a.low, ci_a.high], "ci_b": [ci_b.low, ci_b.high],
    }
    if clusters is None:
        return reported | {"p_a_greater": stats.mcnemar_greater(correct_a, correct_b),
                           "p_b_greater": stats.mcnemar_greater(correct_b, correct_a),
                           "tost": stats.tost_paired(correct_a, correct_b, margin, alpha)}
    return reported | {"p_a_greater": stats.mcnemar_greater_clustered(correct_a, correct_b, clusters),
                       "p_b_greater": stats.mcnemar_greater_clustered(correct_b, correct_a, clusters),
                       "tost": stats.tost_paired_clustered(correct_a, correct_b, clusters, margin, alpha),
                       "design_effect": stats.design_effect(correct_a, correct_b, clusters),
                       "sentences": int(np.unique(clusters).size)}


def _better(r: dict[str, Any], which: str, alpha: float, looks: int = 1) -> str:
    """'``which`` (a or b) is more accurate': contradicted when the claimed advantage is shown below
    0 (one-sided McNemar the other way) or inside the margin (TOST: an advantage shown to be
    negligible, significant or not), each at ``alpha / looks`` (``looks``: the seeds or layers the
    verdict contradicts on if any one does, Bonferroni); else reproduced by one-sided McNemar at
    ``alpha`` (a verdict reproduces only if every look does: no correction needed); else
    inconclusive."""
    eq: stats.Equivalence = r["tost"]
    p = r["p_a_greater"] if which == "a" else r["p_b_greater"]
    p_other_way = r["p_b_greater"] if which == "a" else r["p_a_greater"]
    if p_other_way < alpha / looks or eq.pvalue < alpha / looks:
        return CONTRADICTED
    return REPRODUCED if p < alpha else INCONCLUSIVE


def _same(eq: stats.Equivalence, premise: bool, looks: int = 1) -> str:
    """'No difference': equivalence at alpha (with the premise that both models learned something);
    contradicted when the difference is shown beyond the margin at ``alpha / looks`` (see
    :func:`_better`)."""
    if eq.p_beyond < eq.alpha / looks:
        return CONTRADICTED
    return REPRODUCED if eq.equivalent and premise else INCONCLUSIVE


def depth_trend(layers: Sequence[int], values: Sequence[float]) -> float:
    """Pearson's correlation of depth with a per-layer quantity (a smooth function of the values,
    so the jackknife gives it a standard error; Spearman's ranks have none); 0 where the values
    are flat."""
    v = np.asarray(values, float)
    return float(np.corrcoef(np.asarray(layers, float), v)[0, 1]) if np.ptp(v) > 0 else 0.0


DIRECTPROBE_POINT_VALUES = (
    "DirectProbe's cluster counts (and distances, where no jackknife replicates were given) are compared as "
    "point values: a count would need DirectProbe's LPs run again per jackknife replicate (at the papers' scales "
    "minutes to hours per space): this part is calibrated against translation, scaling and tightening "
    "(claims/calibration.py), not against the texts' sampling noise")
NO_SAMPLING_MODEL = ("{what} has no sampling model here: the point values decide, and this verdict's rate "
                     "of wrong conclusions is not calibrated (claims/calibration.py)")


def _decide(p_hold: Sequence[float], p_fail: Sequence[float], alpha: float, looks: int) -> str:
    """Reproduced when every condition is shown at ``alpha`` (intersection-union); contradicted when
    any one is shown to fail at ``alpha / looks`` (``looks``: every condition on every seed,
    Bonferroni); else inconclusive. An undefined p (a replicate without variance) decides nothing."""
    if not all(math.isfinite(p) for p in (*p_hold, *p_fail)):
        return INCONCLUSIVE
    if min(p_fail) < alpha / looks:
        return CONTRADICTED
    return REPRODUCED if max(p_hold) < alpha else INCONCLUSIVE


def _paired_measured(a: str, b: str, results: list[dict[str, Any]], alpha: float,
                     equivalence: bool) -> tuple[dict, dict, dict]:
    """What every paired verdict reports. ``equivalence``: the claim is judged by TOST, whose reach
    is the smallest margin the data certify; a claim of a difference reports instead the smallest
    difference a one-sided test would detect with 80% power."""
    measured = {
        f"{a}_accuracy": _value([r["acc_a"] for r in results]),
        f"{b}_accuracy": _value([r["acc_b"] for r in results]),
        "difference": _value([r["tost"].difference for r in results]),
        "p_mcnemar": _value([r["mcnemar_p"] for r in results]),
        "p_paper_z": _value([r["p_paper_z"] for r in results]),
        "p_pooled_z": _value([r["p_pooled_z"] for r in results]),
        "smallest_certifiable_margin": _value([r["tost"].certifiable_margin for r in results]),
    }
    if not equivalence:
        measured["detectable_difference"] = _value([r["tost"].detectable for r in results])
    intervals = {f"{a}_accuracy": _interval([r["ci_a"] for r in results]),
                 f"{b}_accuracy": _interval([r["ci_b"] for r in results]),
                 "difference": _interval([(r["tost"].low, r["tost"].high) for r in results])}
    details: dict[str, Any] = {
        "test_size": results[0]["n"],
        "mcnemar_method (two-sided, reported)": results[0]["mcnemar_method"],
        f"discordant pairs (only {a} right, only {b} right)": [r["discordant"] for r in results],
        f"{a} - {b}: interval level": f"{1 - 2 * alpha:.0%} (Tango's score interval of paired proportions, "
                                      "continuity-corrected: TOST at alpha)",
        "smallest_certifiable_margin": "the smallest margin whose equivalence these data would show",
    }
    if not equivalence:
        details["detectable_difference"] = (f"the smallest true difference a one-sided test at alpha = {alpha:g} "
                                            "finds with 80% power at the rate of disagreement seen (one text at least)")
    if "design_effect" in results[0]:
        details["sampling unit"] = (f"the sentence ({results[0]['sentences']} sentences): the deciding tests count the "
                                    "discordant items divided by the design effect (Rao-Scott)")
        details["design effect (per seed)"] = [round(r["design_effect"], 3) for r in results]
    if len(results) > 1:
        t = stats.paired_t([r["acc_a"] for r in results], [r["acc_b"] for r in results])
        details["across seeds, paired t-test"] = {"t": t.t, "df": t.df, "p": t.pvalue}
    return measured, intervals, details


# --------------------------------------------------------------------------------------------
# Bogaert et al. 3.3: principal components for 95% of the variance


# --------------------------------------------------------------------------------------------
# Zhou and Srikumar 4.2-4.3: label clusters move apart


@dataclass(frozen=True)
class Snapshot:
    """DirectProbe on one checkpoint's embeddings: clusters, each label's minimum distance to the
    other labels (raw), the space's spread (``harness.analysis.geometry.spread``: the centred RMS distance
    to the mean, free of translation) and each label's centroid distance to the nearest other
    label's centroid (raw; ``harness.analysis.geometry.nearest_centroid_gap``)."""

    step: int
    num_clusters: int
    min_distance: tuple[float, ...]  # per label
    spread: float
    centroid_gap: tuple[float, ...] = ()  # per label

    @classmethod
    def of(cls, step: int, x: np.ndarray, y: np.ndarray, num_clusters: int,
           min_distance: Sequence[float]) -> Snapshot:
        """A checkpoint's snapshot from its vectors ``x``, labels ``y`` and DirectProbe's result on
        them (clusters, each label's minimum distance): the spread and centroid gaps computed here."""
        return cls(step, int(num_clusters), tuple(float(v) for v in min_distance), geometry.spread(x),
                   tuple(float(v) for v in geometry.nearest_centroid_gap(x, y)))

    def relative(self) -> np.ndarray:
        return np.asarray(self.min_distance, float) / self.spread

    def scaled(self, scale: str) -> np.ndarray:
        """The distances as the judge reads them: relative to the spread, or raw."""
        return self.relative() if scale == "spread" else np.asarray(self.min_distance, float)


def _grows(before: np.ndarray, after: np.ndarray, growth: float) -> bool:
    return bool(np.all(np.asarray(after) > np.asarray(before) * (1 + growth)))


def label_distances(fixture: str, seeds: Sequence[int], label_names: Sequence[str],
                    trajectories: Sequence[Sequence[Snapshot]], similarity: Sequence[tuple[float, float]] | None,
                    params: dict[str, Any],
                    replicates: Sequence[DistanceReplicates | None] | None = None) -> Verdict:
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
                decided = _decide(p_hold, p_fail, alpha, len(p_fail) * len(seeds))
                pvalues[_seed_key(f"every label's distance grows by more than {growth:g} (largest one-sided "
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
        "clusters_first": _value([t[0].num_clusters for t in trajectories]),
        "clusters_last": _value([t[-1].num_clusters for t in trajectories]),
    }
    for k, name in enumerate(label_names):
        for unit, get in (("", lambda s: np.asarray(s.min_distance, float)), ("/spread", Snapshot.relative)):
            measured[f"min_distance{unit}_first[{name}]"] = _value([get(t[0])[k] for t in trajectories])
            measured[f"min_distance{unit}_last[{name}]"] = _value([get(t[-1])[k] for t in trajectories])
    measured["spread_first"] = _value([t[0].spread for t in trajectories])
    measured["spread_last"] = _value([t[-1].spread for t in trajectories])
    if all(t[0].centroid_gap and t[-1].centroid_gap for t in trajectories):
        measured["mean_centroid_gap_first"] = _value([float(np.mean(t[0].centroid_gap)) for t in trajectories])
        measured["mean_centroid_gap_last"] = _value([float(np.mean(t[-1].centroid_gap)) for t in trajectories])
    if similarity is not None:
        measured["train_test_similarity_before"] = _value([s[0] for s in similarity])
        measured["train_test_similarity_after"] = _value([s[1] for s in similarity])
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
    return _verdict("label_distances", fixture, seeds, per_seed, params, criterion=criterion,
                    measured=measured, details=details, notes=notes, pvalues=pvalues)


# --------------------------------------------------------------------------------------------
# Zhou and Srikumar, Table 5: another task's fine-tuning moves the target task's clusters


@dataclass(frozen=True)
class DistanceReplicates:
    """One seed's DirectProbe label distances on the jackknife's replicates (delete-a-group over
    the texts, or the sentences of a token task): the label-distance matrices of the pre-trained
    space and of the cross-task one, on all the items (L, L) and on each replicate (G, L, L;
    ``harness.directprobe.replicate_label_distances``), and each replicate's spreads (G, 2:
    pre-trained, cross-task)."""

    before: np.ndarray
    after: np.ndarray
    before_replicates: np.ndarray
    after_replicates: np.ndarray
    spreads: np.ndarray

    @classmethod
    def of(cls, before: np.ndarray, after: np.ndarray, y: np.ndarray, sentences: np.ndarray | None = None,
           seed: int = 0) -> DistanceReplicates:
        """Computed here from the two spaces' vectors (DirectProbe on each, then its distances on
        each replicate); the claim module reads the same from the store instead."""
        from harness import directprobe

        keeps = stats.jackknife_keep(len(y), clusters=sentences, seed=seed)
        found = [directprobe.cluster(x, y) for x in (before, after)]
        return cls(*[directprobe.label_distances(x, y, c).matrix for x, c in zip((before, after), found, strict=True)],
                   *[directprobe.replicate_label_distances(x, y, c, keeps)
                     for x, c in zip((before, after), found, strict=True)],
                   np.array([(geometry.spread(before[k]), geometry.spread(after[k])) for k in keeps]))

    def kept(self) -> np.ndarray:
        """The labels that every replicate of both spaces still holds (a label whose items all
        fall in one group leaves a replicate without it)."""
        missing = [np.isnan(m).sum(-1) >= m.shape[-1] - 1 for m in (self.before_replicates, self.after_replicates)]
        return ~(missing[0] | missing[1]).any(0)

    def changes(self, kept: np.ndarray, spreads: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
        """Each kept label's relative change of its minimum distance (after / before - 1), raw
        (``spreads`` None) or divided by each space's spread, on all the items (L',) and on each
        replicate (G, L'), the minima taken over the kept labels only."""
        from harness.directprobe import min_per_label

        def mins(m: np.ndarray) -> np.ndarray:
            return min_per_label(m[..., kept, :][..., :, kept])

        b, a = mins(self.before), mins(self.after)
        rb, ra = mins(self.before_replicates), mins(self.after_replicates)
        if spreads is not None:
            b, a = b / spreads[0], a / spreads[1]
            rb, ra = rb / self.spreads[:, :1], ra / self.spreads[:, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b - 1.0, ra / rb - 1.0


def cross_task_distances(fixture: str, seeds: Sequence[int], label_names: Sequence[str],
                         before: Sequence[Sequence[float]], after: Sequence[Sequence[float]],
                         params: dict[str, Any], spreads: Sequence[tuple[float, float]] | None = None,
                         separable: Sequence[tuple[bool, bool]] | None = None,
                         probes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
                         clusters: np.ndarray | None = None,
                         replicates: Sequence[DistanceReplicates | None] | None = None) -> Verdict:
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
            pvalues[_seed_key(f"{'every label' if every else 'the mean'}: relative change of the minimum distance "
                              f"{'below' if sign < 0 else 'above'} {sign * least:+g} (largest one-sided jackknife "
                              "p)", seeds, i)] = max(p_hold)
            # contradicted: the mean shown the other way in every view (the largest p of those)
            part = _decide(p_hold, [max(p_fail)], alpha, len(seeds))
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
                pvalues[_seed_key("McNemar target-tuned > other-tuned probe", seeds, i)] = r["p_a_greater"]
            else:  # the other-tuned probe within the margin of the target-tuned one (non-inferiority)
                pvalues[_seed_key("target-tuned - other-tuned probe < margin", seeds, i)] = r["tost"].p_high
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
    measured: dict[str, Any] = {"mean_change": _value([float(c.mean()) for c in changes]),
                                "mean_relative_change": _value([float(r.mean()) for r in relative]),
                                "mean_relative_change_raw": _value([float(r.mean()) for r in relative_raw])}
    if probes is not None:
        measured["probe_accuracy_target_tuned"] = _value([float(np.mean(a)) for a, _ in probes])
        measured["probe_accuracy_other_tuned"] = _value([float(np.mean(b)) for _, b in probes])
    for k, name in enumerate(label_names):
        measured[f"min_distance_pretrained[{name}]"] = _value([float(b[k]) for b in b_])
        measured[f"min_distance_cross_task[{name}]"] = _value([float(a[k]) for a in a_])
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
    return _verdict("cross_task_distances", fixture, seeds, per_seed, params, criterion=criterion,
                    measured=measured, details=details, notes=notes, pvalues=pvalues,
                    intervals={"mean_relative_change": _interval(intervals)} if intervals else None)


# --------------------------------------------------------------------------------------------
# Layer-wise change (Merchant et al. 2020; Zhou and Srikumar 2022, section 4.5)


# --------------------------------------------------------------------------------------------
# Partial fine-tuning (Merchant et al. 2020, Fig. 3; Hart's last-two-layers setting)


def _recovery(seeds: Sequence[int], full: Sequence[np.ndarray], base: Sequence[np.ndarray | float],
              reached: Sequence[np.ndarray], need: float, min_gain: float, alpha: float,
              no_gain: str) -> tuple[list[float], list[tuple[float, float]], list[str], list[str], dict]:
    """Per seed, the share of full fine-tuning's gain over ``base`` that ``reached`` recovers, on
    the same test texts (per-text outcomes; ``base`` per-text outcomes or a constant accuracy), with
    its (1 - 2 alpha) Fieller interval (``stats.recovery``): reproduced where the texts show at
    least ``need`` (one-sided at alpha), contradicted where they show less, inconclusive where they
    cannot tell, or (``no_gain``, formatted with ``gain`` and ``min_gain``) where the gain itself is
    under ``min_gain``."""
    recovery, intervals, per_seed, notes, pvalues = [], [], [], [], {}
    for i, seed in enumerate(seeds):
        gain = float(np.mean(full[i]) - np.mean(base[i]))
        if gain < min_gain:
            notes.append(f"seed {seed}: " + no_gain.format(gain=gain, min_gain=min_gain))
            recovery.append(float("nan"))
            intervals.append((float("nan"), float("nan")))
            per_seed.append(INCONCLUSIVE)
            continue
        r = stats.recovery(reached[i], full[i], base[i], need, alpha)
        # a contradiction on any one seed contradicts the verdict: each seed at alpha / seeds
        below = r if len(seeds) == 1 else stats.recovery(reached[i], full[i], base[i], need, alpha / len(seeds))
        recovery.append(r.ratio)
        intervals.append((r.low, r.high))
        pvalues[_seed_key(f"share recovered > {need:g} ({r.method})", seeds, i)] = r.p_above
        per_seed.append(REPRODUCED if r.shown_above else CONTRADICTED if below.shown_below else INCONCLUSIVE)
        if per_seed[-1] == INCONCLUSIVE:
            notes.append(f"seed {seed}: recovers {r.ratio:.0%} of a gain of {gain:.4f}, {1 - 2 * alpha:.0%} "
                         f"interval [{r.low:.0%}, {r.high:.0%}] on {len(full[i])} texts: not shown above or "
                         f"below {need:.0%}")
    return recovery, intervals, per_seed, notes, pvalues


def _accuracies(outcomes: Sequence[np.ndarray]) -> list[float]:
    return [float(np.mean(o)) for o in outcomes]


# --------------------------------------------------------------------------------------------
# Across seeds (Hart): two protocols' per-seed accuracies


# --------------------------------------------------------------------------------------------
# Sparse baselines (Hart): the fine-tuned model against bag-of-words logistic regression


# --------------------------------------------------------------------------------------------
# In-domain vs out-of-domain change (Merchant et al. 2020)


# --------------------------------------------------------------------------------------------
# Discriminant words (Bogaert et al. 2023, section 3.2)


# --------------------------------------------------------------------------------------------
# No forgetting (Merchant et al. 2020): linguistic probes score as well after fine-tuning


# --------------------------------------------------------------------------------------------
# Zhou and Srikumar, section 4.1: fine-tuning improves the probe's accuracy


# --------------------------------------------------------------------------------------------
# Zhou and Srikumar, section 4.5 (Fig. 5): how the label centroids move, layer by layer


# --------------------------------------------------------------------------------------------
# Merchant et al., Fig. 4: models cut after layer k


