"""Judges: the decision of each claim, as pure functions of measured values.

A judge takes what the claim measured on each seed and the fixture's claim parameters, and
returns a :class:`Verdict`. Nothing here trains or loads a model: the claim modules gather the
evidence from artifacts, the judges decide, and tests can feed a judge broken evidence (a negative
control) without any model at all.

Several seeds: every judge computes its criterion on each seed and passes only if it holds on
every seed; the measured values are reported as mean, standard deviation and per-seed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness import stats

from .verdict import Verdict


def _mean_sd(values: Sequence[float]) -> dict[str, Any]:
    s = stats.summarize(values)
    out: dict[str, Any] = {"mean": s.mean}
    if s.n > 1:
        out |= {"sd": s.sd, "per_seed": list(s.values)}
    return out


def _value(values: Sequence[float]) -> Any:
    """One seed: the number; several: mean, sd and per-seed values."""
    return float(values[0]) if len(values) == 1 else _mean_sd(values)


def _interval(per_seed: Sequence[Sequence[float]]) -> Any:
    """One seed: ``[low, high]``; several: ``{"per_seed": [[low, high], ...]}``."""
    pairs = [[float(lo), float(hi)] for lo, hi in per_seed]
    return pairs[0] if len(pairs) == 1 else {"per_seed": pairs}


def accuracy_interval(correct: Sequence[np.ndarray]) -> Any:
    """Percentile-bootstrap 95% CI of the accuracy, per seed (see :func:`_interval`)."""
    cis = [stats.bootstrap_accuracy(c) for c in correct]
    return _interval([(ci.low, ci.high) for ci in cis])


# --------------------------------------------------------------------------------------------
# Claim 1: no overfitting


@dataclass(frozen=True)
class SplitAccuracy:
    train: float
    test: float


def no_overfitting(
    fixture: str,
    seeds: Sequence[int],
    finetuned: Sequence[SplitAccuracy],
    frozen: Sequence[SplitAccuracy],
    test_overlap: float,
    params: dict[str, Any],
) -> Verdict:
    """Train minus test accuracy stays within ``tolerance`` for both models on every seed
    (``expect = "overfitting"``: a fixture where the paper's claim is expected not to hold).

    The gap only means something if the test texts are unseen: ``test_overlap`` (the fraction of
    test texts that also occur in train) must not exceed ``max_overlap``, else the verdict fails
    whatever the accuracies say.
    """
    tol, max_overlap = float(params["tolerance"]), float(params.get("max_overlap", 0.1))
    gaps = {
        name: [a.train - a.test for a in accs]
        for name, accs in (("finetuned", finetuned), ("frozen", frozen))
    }
    split_ok = test_overlap <= max_overlap
    within = all(g <= tol for values in gaps.values() for g in values)
    expect = params.get("expect", "no_overfitting")
    passed = split_ok and within == (expect == "no_overfitting")
    measured = {
        "finetuned_train": _value([a.train for a in finetuned]),
        "finetuned_test": _value([a.test for a in finetuned]),
        "finetuned_gap": _value(gaps["finetuned"]),
        "frozen_train": _value([a.train for a in frozen]),
        "frozen_test": _value([a.test for a in frozen]),
        "frozen_gap": _value(gaps["frozen"]),
        "test_texts_also_in_train": test_overlap,
    }
    details = {}
    if not split_ok:
        details["split_check"] = (
            f"{test_overlap:.1%} of the test texts also occur in train (allowed: {max_overlap:.0%}): "
            "the test split does not measure generalisation"
        )
    return Verdict(
        claim="no_overfitting", fixture=fixture, seeds=tuple(seeds), passed=passed,
        criterion=(("" if expect == "no_overfitting" else "expected to fail here: ")
                   + f"train - test accuracy <= {tol:g} for the fine-tuned and the frozen model on "
                   f"every seed, with at most {max_overlap:.0%} of test texts seen in train"),
        measured=measured, paper=dict(params.get("paper", {})), details=details,
    )


def text_overlap(train_texts: Sequence[str], test_texts: Sequence[str]) -> float:
    """Fraction of test texts (after whitespace and case normalisation) that occur in train."""
    def norm(t: str) -> str:
        return " ".join(t.lower().split())

    seen = {norm(t) for t in train_texts}
    return float(np.mean([norm(t) in seen for t in test_texts])) if test_texts else 0.0


# --------------------------------------------------------------------------------------------
# Claims 2 and 5: paired comparison of two classifiers on the same test texts


def paired_outcome(correct_a: np.ndarray, correct_b: np.ndarray, alpha: float) -> dict[str, Any]:
    """McNemar (decides), the paper's z and the pooled z (reported), bootstrap CI of A - B."""
    n = len(correct_a)
    acc_a, acc_b = float(np.mean(correct_a)), float(np.mean(correct_b))
    mc = stats.mcnemar(correct_a, correct_b)
    z_paper = stats.two_proportion_z(acc_a, acc_b, n, form="paper")
    z_pooled = stats.two_proportion_z(acc_a, acc_b, n, form="pooled")
    diff = stats.paired_bootstrap_difference(correct_a, correct_b)
    ci_a, ci_b = stats.bootstrap_accuracy(correct_a), stats.bootstrap_accuracy(correct_b)
    if mc.pvalue < alpha:
        outcome = "a_better" if acc_a > acc_b else "b_better"
    else:
        outcome = "not_significant"
    return {
        "outcome": outcome, "acc_a": acc_a, "acc_b": acc_b, "n": n,
        "mcnemar_p": mc.pvalue, "mcnemar_method": mc.method, "discordant": [mc.b, mc.c],
        "z_paper": z_paper.z, "p_paper_z": z_paper.pvalue,
        "z_pooled": z_pooled.z, "p_pooled_z": z_pooled.pvalue,
        "diff_ci95": [diff.low, diff.high],
        "ci_a": [ci_a.low, ci_a.high], "ci_b": [ci_b.low, ci_b.high],
    }


def _paired_verdict(claim: str, fixture: str, seeds: Sequence[int], names: tuple[str, str],
                    results: list[dict[str, Any]], expect: str, outcome_names: dict[str, str],
                    alpha: float, criterion: str, paper: dict[str, Any]) -> Verdict:
    a, b = names
    outcomes = [outcome_names[r["outcome"]] for r in results]
    passed = all(o == expect for o in outcomes)
    measured = {
        f"{a}_accuracy": _value([r["acc_a"] for r in results]),
        f"{b}_accuracy": _value([r["acc_b"] for r in results]),
        "outcome": outcomes[0] if len(outcomes) == 1 else outcomes,
        "p_mcnemar": _value([r["mcnemar_p"] for r in results]),
        "p_paper_z": _value([r["p_paper_z"] for r in results]),
        "p_pooled_z": _value([r["p_pooled_z"] for r in results]),
    }
    details: dict[str, Any] = {
        "test_size": results[0]["n"],
        "mcnemar_method": results[0]["mcnemar_method"],
        "discordant_pairs (only a right, only b right)": [r["discordant"] for r in results],
        f"{a} - {b} accuracy, paired bootstrap 95% CI": [r["diff_ci95"] for r in results],
        "decided_by": f"McNemar's paired test at alpha = {alpha:g}, on every seed",
    }
    if len(results) > 1:
        t = stats.paired_t([r["acc_a"] for r in results], [r["acc_b"] for r in results])
        details["across seeds, paired t-test"] = {"t": t.t, "df": t.df, "p": t.pvalue}
    intervals = {f"{a}_accuracy": _interval([r["ci_a"] for r in results]),
                 f"{b}_accuracy": _interval([r["ci_b"] for r in results])}
    return Verdict(claim=claim, fixture=fixture, seeds=tuple(seeds), passed=passed,
                   criterion=criterion, measured=measured, paper=paper, details=details,
                   intervals=intervals)


def accuracy_gap(fixture: str, seeds: Sequence[int], correct_finetuned: Sequence[np.ndarray],
                 correct_frozen: Sequence[np.ndarray], params: dict[str, Any]) -> Verdict:
    """Fine-tuned vs frozen on the same test texts: the significance outcome is as expected."""
    alpha, expect = float(params["alpha"]), params["expect"]
    results = [paired_outcome(ft, fr, alpha) for ft, fr in zip(correct_finetuned, correct_frozen, strict=True)]
    names = {"a_better": "finetuned_better", "b_better": "frozen_better", "not_significant": "not_significant"}
    return _paired_verdict(
        "accuracy_gap", fixture, seeds, ("finetuned", "frozen"), results, expect, names, alpha,
        f"the fine-tuned vs frozen accuracy gap is {expect.replace('_', ' ')} "
        f"(McNemar, alpha = {alpha:g}) on every seed", dict(params.get("paper", {})),
    )


def cross_task(fixture: str, seeds: Sequence[int], correct_same: Sequence[np.ndarray],
               correct_cross: Sequence[np.ndarray], frozen_accuracy: Sequence[float],
               params: dict[str, Any]) -> Verdict:
    """An encoder fine-tuned on task B, probed on task A, against same-task fine-tuning on A.

    ``expect = "lower"``: cross-task accuracy is significantly below same-task (McNemar);
    ``"not_significant"``: the two do not differ significantly.
    """
    alpha, expect = float(params["alpha"]), params["expect"]
    results = [paired_outcome(s, c, alpha) for s, c in zip(correct_same, correct_cross, strict=True)]
    names = {"a_better": "lower", "b_better": "higher", "not_significant": "not_significant"}
    verdict = _paired_verdict(
        "cross_task", fixture, seeds, ("same_task", "cross_task"), results, expect, names, alpha,
        ("cross-task accuracy is significantly below same-task fine-tuning" if expect == "lower"
         else "cross-task and same-task accuracy do not differ significantly")
        + f" (McNemar, alpha = {alpha:g}) on every seed", dict(params.get("paper", {})),
    )
    measured = dict(verdict.measured)
    measured["frozen_accuracy"] = _value(frozen_accuracy)
    return replace(verdict, measured=measured)


# --------------------------------------------------------------------------------------------
# Claim 3: principal components for 95% of the variance


def pca_variance(fixture: str, seeds: Sequence[int], finetuned: Sequence[int], frozen: Sequence[int],
                 cross: Sequence[int] | None, dim: int, params: dict[str, Any]) -> Verdict:
    """The fine-tuned space needs far fewer PCs than the frozen one: at most ``max_ratio`` times
    as many, on every seed; with ``cross_task_between`` the cross-task space lies in between."""
    ratio, var = float(params["max_ratio"]), float(params["variance"])
    ok = [ft <= ratio * fr for ft, fr in zip(finetuned, frozen, strict=True)]
    between = params.get("cross_task_between", False) and cross is not None
    if between:
        ok = [o and ft <= cr <= fr for o, ft, cr, fr in zip(ok, finetuned, cross, frozen, strict=True)]
    measured = {"finetuned_pcs": _value(finetuned), "frozen_pcs": _value(frozen)}
    if cross is not None:
        measured["cross_task_pcs"] = _value(cross)
    criterion = (f"PCs for {var:.0%} of the variance: fine-tuned <= {ratio:g} x frozen"
                 + (", cross-task in between" if between else "") + ", on every seed")
    return Verdict(claim="pca_variance", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})),
                   details={"embedding_dim": dim, "space": "test set, last layer, first token"})


# --------------------------------------------------------------------------------------------
# Claim 4: label clusters move apart during fine-tuning


@dataclass(frozen=True)
class Snapshot:
    """DirectProbe on one checkpoint's embeddings: clusters and each label's minimum distance."""

    step: int
    num_clusters: int
    min_distance: tuple[float, ...]  # per label


def label_distances(fixture: str, seeds: Sequence[int], label_names: Sequence[str],
                    trajectories: Sequence[Sequence[Snapshot]], similarity: Sequence[tuple[float, float]] | None,
                    params: dict[str, Any]) -> Verdict:
    """Between the first and the last checkpoint, on every seed: the number of DirectProbe clusters
    does not grow, and, where the last space is linearly separable, every label's minimum distance
    to the other labels grows. With ``similarity`` (train/test spatial similarity before and after
    fine-tuning), it must fall. ``min_growth``: the relative increase that counts as growth."""
    num_labels = len(label_names)
    growth = float(params.get("min_growth", 0.01))  # relative: float noise is not movement
    ok, notes = [], []
    for seed, traj in zip(seeds, trajectories, strict=True):
        first, last = traj[0], traj[-1]
        fewer = last.num_clusters <= first.num_clusters
        separable = last.num_clusters == num_labels
        grew = all(b > a * (1 + growth) for a, b in zip(first.min_distance, last.min_distance, strict=True))
        holds = fewer and (grew if separable else True)
        if not separable:
            notes.append(f"seed {seed}: last checkpoint not linearly separable "
                         f"({last.num_clusters} clusters), distances reported, not judged")
        if similarity is not None:
            before, after = similarity[list(seeds).index(seed)]
            holds = holds and after < before
        ok.append(holds)
    measured: dict[str, Any] = {
        "clusters_first": _value([t[0].num_clusters for t in trajectories]),
        "clusters_last": _value([t[-1].num_clusters for t in trajectories]),
    }
    for k, name in enumerate(label_names):
        measured[f"min_distance_first[{name}]"] = _value([t[0].min_distance[k] for t in trajectories])
        measured[f"min_distance_last[{name}]"] = _value([t[-1].min_distance[k] for t in trajectories])
    if similarity is not None:
        measured["train_test_similarity_before"] = _value([s[0] for s in similarity])
        measured["train_test_similarity_after"] = _value([s[1] for s in similarity])
    details: dict[str, Any] = {
        "trajectory (step: clusters, min distance per label)": [
            {str(s.step): [s.num_clusters, list(s.min_distance)] for s in traj} for traj in trajectories
        ],
        "space": "last layer, first token, DirectProbe (exact LP overlap checks)",
    }
    if notes:
        details["notes"] = notes
    criterion = ("from the first to the last fine-tuning checkpoint: DirectProbe clusters do not grow "
                 "and, where the last space is linearly separable, every label's minimum distance to "
                 f"the other labels grows by more than {growth:.0%}" + ("; train/test spatial similarity falls" if similarity else "")
                 + ", on every seed")
    return Verdict(claim="label_distances", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})),
                   details=details)


# --------------------------------------------------------------------------------------------
# Claim 5, geometric part: another task's fine-tuning moves the target task's label clusters


def cross_task_distances(fixture: str, seeds: Sequence[int], label_names: Sequence[str],
                         before: Sequence[Sequence[float]], after: Sequence[Sequence[float]],
                         params: dict[str, Any],
                         mean_norms: Sequence[tuple[float, float]] | None = None) -> Verdict:
    """Each target label's minimum DirectProbe distance to the other labels, under the pre-trained
    encoder (``before``, per seed) and under the encoder fine-tuned on the other task (``after``).

    ``expect = "lower"`` (Zhou and Srikumar's opposing task): the mean relative change over labels
    is below ``-min_change`` on every seed; ``"higher"`` (a related task): above ``min_change``.
    With ``all_labels`` every label's distance must move that way, not just the mean. Distances are in the encoders' own
    units, as in the paper; ``mean_norms`` (the mean vector length before and after, per seed) goes
    to the details so that a reader can tell a moved cluster from a rescaled space.
    """
    expect, every = params["expect"], bool(params.get("all_labels", False))
    least = float(params.get("min_change", 0.01))  # relative: float noise is not movement
    sign = -1.0 if expect == "lower" else 1.0
    b_, a_ = [np.asarray(b, float) for b in before], [np.asarray(a, float) for a in after]
    by_norm = params.get("scale", "raw") == "mean_norm"
    if by_norm:
        if not mean_norms:
            raise ValueError('scale = "mean_norm" needs the mean vector norms')
        b_ = [b / nb for b, (nb, _) in zip(b_, mean_norms, strict=True)]
        a_ = [a / na for a, (_, na) in zip(a_, mean_norms, strict=True)]
    changes = [a - b for b, a in zip(b_, a_, strict=True)]
    relative = [c / np.where(b > 0, b, np.inf) for b, c in zip(b_, changes, strict=True)]
    ok = [bool((sign * r > least).all()) if every else bool(sign * r.mean() > least) for r in relative]
    measured: dict[str, Any] = {"mean_change": _value([float(c.mean()) for c in changes]),
                                "mean_relative_change": _value([float(r.mean()) for r in relative])}
    for k, name in enumerate(label_names):
        measured[f"min_distance_pretrained[{name}]"] = _value([float(b[k]) for b in b_])
        measured[f"min_distance_cross_task[{name}]"] = _value([float(a[k]) for a in a_])
    criterion = (("distances divided by the space's mean vector norm: " if by_norm else "")
                 + f"{'every label' if every else 'the mean over labels'} of the target task's minimum "
                 f"DirectProbe distance to the other labels is {expect}, by more than {least:.0%} "
                 "relative, under the encoder fine-tuned on the other task than under the pre-trained "
                 "one, on every seed")
    return Verdict(claim="cross_task_distances", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})),
                   details={"change per label": [[float(v) for v in c] for c in changes]}
                   | ({"mean vector norm (pre-trained, cross-task)": [list(m) for m in mean_norms]}
                      if mean_norms else {}))


# --------------------------------------------------------------------------------------------
# Layer-wise change (Merchant et al. 2020; Zhou and Srikumar 2022, section 4.5)


def layer_change(fixture: str, seeds: Sequence[int], layers: Sequence[int],
                 similarity: dict[str, Sequence[Sequence[float]]], params: dict[str, Any]) -> Verdict:
    """Similarity of each layer before and after fine-tuning (``similarity[measure]``: per seed,
    one value per layer in ``layers``) falls with depth, on every seed: the last layer's is below
    the first's by more than ``min_drop``, and the Spearman correlation of depth and similarity is
    at most ``max_trend``; with ``min_similarity`` every layer stays at or above it (Zhou and
    Srikumar: higher layers change more yet stay similar, Pearson > 0.5)."""
    from scipy.stats import spearmanr

    measure = params["measure"]
    drop, trend_max = float(params["min_drop"]), float(params["max_trend"])
    floor = params.get("min_similarity")
    ok, trends, drops = [], [], []
    for sims in similarity[measure]:
        sims = np.asarray(sims, float)
        trend = float(spearmanr(layers, sims).statistic) if np.ptp(sims) > 0 else 0.0
        trends.append(trend)
        drops.append(float(sims[0] - sims[-1]))
        holds = drops[-1] > drop and trend <= trend_max
        if floor is not None:
            holds = holds and bool((sims >= float(floor)).all())
        ok.append(holds)
    measured: dict[str, Any] = {
        f"{measure}_first_layer": _value([s[0] for s in similarity[measure]]),
        f"{measure}_last_layer": _value([s[-1] for s in similarity[measure]]),
        "drop": _value(drops),
        "depth_trend_spearman": _value(trends),
    }
    details = {f"{name} per layer {list(layers)}": [[float(v) for v in s] for s in sims]
               for name, sims in similarity.items()}
    name = {"cka": "linear CKA", "rsa": "RSA", "spatial": "DirectProbe spatial similarity"}.get(measure, measure)
    criterion = (f"{name} between the pre-trained and the fine-tuned encoder, per layer: the last "
                 f"layer's is lower than the first's by more than {drop:g} and the depth/similarity "
                 f"Spearman correlation is <= {trend_max:g}"
                 + (f"; every layer >= {float(floor):g}" if floor is not None else "") + ", on every seed")
    return Verdict(claim="layer_change", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})),
                   details=details)


# --------------------------------------------------------------------------------------------
# Partial fine-tuning (Merchant et al. 2020, Fig. 3; Hart's last-two-layers setting)


def partial_finetuning(fixture: str, seeds: Sequence[int], full: Sequence[float], frozen: Sequence[float],
                       partial: dict[int, Sequence[float]], params: dict[str, Any]) -> Verdict:
    """Training only the top ``few`` layers recovers at least ``min_recovery`` of the accuracy that
    full fine-tuning gains over the frozen encoder, on every seed:
    ``(acc_few - acc_frozen) / (acc_full - acc_frozen)``. Where full fine-tuning gains less than
    ``min_gain`` there is nothing to recover and the verdict fails with that reason."""
    few, need, min_gain = int(params["few"]), float(params["min_recovery"]), float(params["min_gain"])
    if few not in partial:
        raise ValueError(f"no accuracies for trainable_layers = {few}; have {sorted(partial)}")
    recovery, notes = [], []
    for i, seed in enumerate(seeds):
        gain = full[i] - frozen[i]
        if gain < min_gain:
            notes.append(f"seed {seed}: full fine-tuning gains {gain:.4f} over frozen (< {min_gain:g}): "
                         "nothing to recover")
            recovery.append(float("nan"))
        else:
            recovery.append((partial[few][i] - frozen[i]) / gain)
    recovers = [r == r and r >= need for r in recovery]  # NaN: nothing to recover
    if params.get("expect", "recovers") == "recovers":
        ok = recovers
    else:  # a fixture where the claim is expected not to hold; a NaN still fails
        ok = [r == r and not rec for r, rec in zip(recovery, recovers, strict=True)]
    measured: dict[str, Any] = {"full_accuracy": _value(full), "frozen_accuracy": _value(frozen)}
    for k in sorted(partial):
        measured[f"top_{k}_layers_accuracy"] = _value(partial[k])
    measured[f"recovery_top_{few}"] = _value(recovery)
    return Verdict(
        claim="partial_finetuning", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
        criterion=(("expected to fail here: " if params.get("expect", "recovers") != "recovers" else "")
                   + f"training only the top {few} layer(s) recovers >= {need:.0%} of the full fine-tuning "
                   "gain over the frozen encoder (test accuracy), on every seed"),
        measured=measured, paper=dict(params.get("paper", {})), details={"notes": notes} if notes else {},
    )


# --------------------------------------------------------------------------------------------
# Across seeds (Hart): Welch's t-test on per-seed accuracies of two protocols


def seed_welch(fixture: str, seeds: Sequence[int], a_name: str, b_name: str, acc_a: Sequence[float],
               acc_b: Sequence[float], params: dict[str, Any]) -> Verdict:
    """Hart's test: per-seed test accuracies of two protocols (e.g. frozen vs fully fine-tuned,
    10 runs each), compared by Welch's t-test; the outcome at ``alpha`` must be ``expect``
    (``a_better``, ``b_better``, ``not_significant``). Needs ``min_seeds`` seeds or more."""
    alpha, expect, least = float(params["alpha"]), params["expect"], int(params["min_seeds"])
    if len(seeds) < least:
        return Verdict(claim="seed_welch", fixture=fixture, seeds=tuple(seeds), passed=False,
                       criterion=f"needs at least {least} seeds (run with --seeds {least})",
                       measured={"seeds": len(seeds)}, paper=dict(params.get("paper", {})))
    t = stats.welch_t(acc_a, acc_b)
    mean_a, mean_b = float(np.mean(acc_a)), float(np.mean(acc_b))
    outcome = "not_significant" if not t.pvalue < alpha else ("a_better" if mean_a > mean_b else "b_better")
    names = {"a_better": f"{a_name}_better", "b_better": f"{b_name}_better", "not_significant": "not_significant"}
    s_a, s_b = stats.summarize(acc_a), stats.summarize(acc_b)
    return Verdict(
        claim="seed_welch", fixture=fixture, seeds=tuple(seeds), passed=outcome == expect,
        criterion=(f"Welch's t-test on per-seed test accuracies, {a_name} vs {b_name}: "
                   f"{names[expect].replace('_', ' ')} at alpha = {alpha:g}"),
        measured={f"{a_name}_accuracy": {"mean": s_a.mean, "sd": s_a.sd, "per_seed": list(s_a.values)},
                  f"{b_name}_accuracy": {"mean": s_b.mean, "sd": s_b.sd, "per_seed": list(s_b.values)},
                  "outcome": names[outcome], "t": t.t, "df": t.df, "p_welch": t.pvalue},
        paper=dict(params.get("paper", {})),
    )


# --------------------------------------------------------------------------------------------
# Sparse baselines (Hart): the fine-tuned model against bag-of-words logistic regression


def sparse_baselines(fixture: str, seeds: Sequence[int], correct_finetuned: Sequence[np.ndarray],
                     correct_best_sparse: Sequence[np.ndarray], best: Sequence[str],
                     cv: Sequence[dict[str, dict[str, float]]], params: dict[str, Any]) -> Verdict:
    """The fine-tuned model against the best sparse baseline on the same test texts (McNemar).

    The baseline is chosen per seed by its k-fold CV accuracy on the train split, never by its
    test accuracy. ``cv[seed_index][features]`` holds that features' ``accuracy``,
    ``accuracy_sd``, ``f1_macro`` and ``test_accuracy``.
    """
    alpha, expect, folds = float(params["alpha"]), params["expect"], int(params["folds"])
    results = [paired_outcome(ft, sp, alpha)
               for ft, sp in zip(correct_finetuned, correct_best_sparse, strict=True)]
    names = {"a_better": "finetuned_better", "b_better": "sparse_better", "not_significant": "not_significant"}
    verdict = _paired_verdict(
        "sparse_baselines", fixture, seeds, ("finetuned", "best_sparse"), results, expect, names, alpha,
        f"the fine-tuned model vs the best sparse baseline (chosen by {folds}-fold CV on train): "
        f"{expect.replace('_', ' ')} (McNemar, alpha = {alpha:g}) on every seed",
        dict(params.get("paper", {})),
    )
    measured = dict(verdict.measured)
    measured["best_sparse"] = best[0] if len(set(best)) == 1 else list(best)
    for kind in cv[0]:
        measured[f"cv_accuracy_{kind}"] = _value([c[kind]["accuracy"] for c in cv])
        measured[f"cv_f1_macro_{kind}"] = _value([c[kind]["f1_macro"] for c in cv])
    details = dict(verdict.details)
    details["sparse baselines per seed (CV on train; test accuracy)"] = [
        {kind: {k: round(v, 4) for k, v in row.items()} for kind, row in c.items()} for c in cv]
    return replace(verdict, measured=measured, details=details)


# --------------------------------------------------------------------------------------------
# In-domain vs out-of-domain change (Merchant et al. 2020)


def domain_shift(fixture: str, seeds: Sequence[int], layers: Sequence[int],
                 in_domain: dict[str, Sequence[Sequence[float]]],
                 out_of_domain: dict[str, Sequence[Sequence[float]]], params: dict[str, Any]) -> Verdict:
    """Fine-tuning changes in-domain texts more than out-of-domain ones: averaged over the top
    ``top_layers`` layers, the similarity (``measure``) between the pre-trained and the fine-tuned
    encoder is lower on in-domain texts than on out-of-domain texts by more than ``min_gap``, on
    every seed. ``in_domain[measure]``: per seed, one similarity per layer in ``layers``."""
    measure, top, gap_min = params["measure"], int(params["top_layers"]), float(params["min_gap"])
    if not 1 <= top <= len(layers):
        raise ValueError(f"top_layers must be in 1..{len(layers)}, got {top}")
    gaps, ins, outs = [], [], []
    for sims_in, sims_out in zip(in_domain[measure], out_of_domain[measure], strict=True):
        ins.append(float(np.mean(sims_in[-top:])))
        outs.append(float(np.mean(sims_out[-top:])))
        gaps.append(outs[-1] - ins[-1])
    measured = {f"{measure}_in_domain_top{top}": _value(ins), f"{measure}_out_of_domain_top{top}": _value(outs),
                "gap": _value(gaps)}
    details = {f"{side} {name} per layer {list(layers)}": [[float(v) for v in s] for s in sims]
               for side, table in (("in-domain", in_domain), ("out-of-domain", out_of_domain))
               for name, sims in table.items()}
    criterion = (f"{measure.upper()} between the pre-trained and the fine-tuned encoder, mean of the top {top} "
                 f"layer(s): out-of-domain minus in-domain > {gap_min:g} (in-domain texts change more), on every seed")
    return Verdict(claim="domain_shift", fixture=fixture, seeds=tuple(seeds), passed=all(g > gap_min for g in gaps),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})), details=details)


# --------------------------------------------------------------------------------------------
# Discriminant words (Bogaert et al. 2023, section 3.2)


def discriminant_words(fixture: str, seeds: Sequence[int], finetuned_top: Sequence[Sequence[tuple[str, float]]],
                       frozen_top: Sequence[Sequence[tuple[str, float]]],
                       relatedness: Sequence[dict[str, float]], params: dict[str, Any]) -> Verdict:
    """The fine-tuned model's most discriminant words are more task-related than the frozen
    model's: their mean relatedness (``relatedness[seed_index][word]``: mutual information with
    the label on the train split, or membership of the fixture's lexicon) exceeds the frozen
    list's by more than ``min_margin``, on every seed. Each list: the ``top_k`` words by the
    difference of absolute mean relevance (harness/attribution.py)."""
    margin, measure = float(params["min_margin"]), params["relatedness"]
    ft_scores, fr_scores, notes = [], [], []
    for i, (ft, fr) in enumerate(zip(finetuned_top, frozen_top, strict=True)):
        if not ft or not fr:
            notes.append(f"seed {seeds[i]}: no word was seen {params['min_count']} times by both models")
            ft_scores.append(float("nan"))
            fr_scores.append(float("nan"))
            continue
        ft_scores.append(float(np.mean([relatedness[i].get(w, 0.0) for w, _ in ft])))
        fr_scores.append(float(np.mean([relatedness[i].get(w, 0.0) for w, _ in fr])))
    ok = [np.isfinite(a) and np.isfinite(b) and a > b + margin for a, b in zip(ft_scores, fr_scores, strict=True)]
    label = "mutual information with the label (train split, nats)" if measure == "mutual_information" \
        else "share in the fixture's lexicon"
    measured = {f"finetuned_top{params['top_k']}_{measure}": _value(ft_scores),
                f"frozen_top{params['top_k']}_{measure}": _value(fr_scores)}
    details: dict[str, Any] = {
        "relatedness": label,
        "fine-tuned top words (relevance difference)": [[(w, round(d, 4)) for w, d in ft] for ft in finetuned_top],
        "frozen top words (relevance difference)": [[(w, round(d, 4)) for w, d in fr] for fr in frozen_top],
    }
    if notes:
        details["notes"] = notes
    criterion = (f"mean {label} of the fine-tuned model's top {params['top_k']} discriminant words exceeds the "
                 f"frozen model's by more than {margin:g}, on every seed")
    return Verdict(claim="discriminant_words", fixture=fixture, seeds=tuple(seeds), passed=all(ok),
                   criterion=criterion, measured=measured, paper=dict(params.get("paper", {})), details=details)
