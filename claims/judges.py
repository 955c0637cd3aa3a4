"""What the judges share: how a claim's conclusion is reached and reported, as pure functions.

Each claim's judge lives in its module (``claims/catalog/<name>.py``): it takes the claim's
:class:`Evidence` record and the fixture's claim parameters (checked and completed by
``claims/spec.py``) and returns, through :func:`verdict`, a :class:`~reports.schema.Verdict`
whose ``conclusion`` is one of

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

from .spec import ClaimSpec
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


def measured_value(values: Sequence[float]) -> dict[str, Any]:
    """A quantity measured on each seed, in the one shape every measured value has:
    ``{"value": mean over the seeds, "sd": sample sd (None for one seed), "per_seed": [...]}``."""
    s = stats.summarize(values)
    return {"value": s.mean, "sd": s.sd if s.n > 1 else None, "per_seed": list(s.values)}


def run_value(value: float) -> dict[str, Any]:
    """A quantity of the whole run (a test across seeds, the chance level): ``per_seed`` None."""
    return {"value": float(value), "sd": None, "per_seed": None}


def intervals_of(per_seed: Sequence[Sequence[float]]) -> list[list[float]]:
    """Intervals in their one shape: ``[[low, high], ...]``, one per seed (or one for the run)."""
    return [[float(lo), float(hi)] for lo, hi in per_seed]


def seed_key(name: str, seeds: Sequence[int], i: int) -> str:
    return name if len(seeds) == 1 else f"{name} (seed {seeds[i]})"


def accuracy_interval(correct: Sequence[np.ndarray]) -> Any:
    """Percentile-bootstrap 95% CI of the accuracy, per seed (see :func:`intervals_of`)."""
    cis = [stats.bootstrap_accuracy(c) for c in correct]
    return intervals_of([(ci.low, ci.high) for ci in cis])


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


def better_conclusion(r: dict[str, Any], which: str, alpha: float, looks: int = 1) -> str:
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


def same_conclusion(eq: stats.Equivalence, premise: bool, looks: int = 1) -> str:
    """'No difference': equivalence at alpha (with the premise that both models learned something);
    contradicted when the difference is shown beyond the margin at ``alpha / looks`` (see
    :func:`better_conclusion`)."""
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


def decide(p_hold: Sequence[float], p_fail: Sequence[float], alpha: float, looks: int) -> str:
    """Reproduced when every condition is shown at ``alpha`` (intersection-union); contradicted when
    any one is shown to fail at ``alpha / looks`` (``looks``: every condition on every seed,
    Bonferroni); else inconclusive. An undefined p (a replicate without variance) decides nothing."""
    if not all(math.isfinite(p) for p in (*p_hold, *p_fail)):
        return INCONCLUSIVE
    if min(p_fail) < alpha / looks:
        return CONTRADICTED
    return REPRODUCED if max(p_hold) < alpha else INCONCLUSIVE


def paired_measured(a: str, b: str, results: list[dict[str, Any]], alpha: float,
                     equivalence: bool) -> tuple[dict, dict, dict]:
    """What every paired verdict reports. ``equivalence``: the claim is judged by TOST, whose reach
    is the smallest margin the data certify; a claim of a difference reports instead the smallest
    difference a one-sided test would detect with 80% power."""
    measured = {
        f"{a}_accuracy": measured_value([r["acc_a"] for r in results]),
        f"{b}_accuracy": measured_value([r["acc_b"] for r in results]),
        "difference": measured_value([r["tost"].difference for r in results]),
        "p_mcnemar": measured_value([r["mcnemar_p"] for r in results]),
        "p_paper_z": measured_value([r["p_paper_z"] for r in results]),
        "p_pooled_z": measured_value([r["p_pooled_z"] for r in results]),
        "smallest_certifiable_margin": measured_value([r["tost"].certifiable_margin for r in results]),
    }
    if not equivalence:
        measured["detectable_difference"] = measured_value([r["tost"].detectable for r in results])
    intervals = {f"{a}_accuracy": intervals_of([r["ci_a"] for r in results]),
                 f"{b}_accuracy": intervals_of([r["ci_b"] for r in results]),
                 "difference": intervals_of([(r["tost"].low, r["tost"].high) for r in results])}
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
# DirectProbe's label distances, at a checkpoint and on the jackknife's replicates (label_distances,
# cross_task_distances)


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


# --------------------------------------------------------------------------------------------
# Shares of a gain recovered (partial_finetuning, truncated_finetuning), accuracies per seed


def recovery_by_seed(seeds: Sequence[int], full: Sequence[np.ndarray], base: Sequence[np.ndarray | float],
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
        pvalues[seed_key(f"share recovered > {need:g} ({r.method})", seeds, i)] = r.p_above
        per_seed.append(REPRODUCED if r.shown_above else CONTRADICTED if below.shown_below else INCONCLUSIVE)
        if per_seed[-1] == INCONCLUSIVE:
            notes.append(f"seed {seed}: recovers {r.ratio:.0%} of a gain of {gain:.4f}, {1 - 2 * alpha:.0%} "
                         f"interval [{r.low:.0%}, {r.high:.0%}] on {len(full[i])} texts: not shown above or "
                         f"below {need:.0%}")
    return recovery, intervals, per_seed, notes, pvalues


def accuracies(outcomes: Sequence[np.ndarray]) -> list[float]:
    return [float(np.mean(o)) for o in outcomes]
