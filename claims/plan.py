"""A plan before a long run: what ``pytest claims ... --plan`` would do, with nothing trained.

For every fixture the run selects: its encoder (and, for a hub id, the commit the local cache
resolves it to), its tasks and their sizes, its claims and seeds, and the artifacts the claims
start from (each fine-tuning run, frozen head and cross-task head), each marked *cached* (its
folder is in the store) or *to build*, with an estimate of the time to build it, measured on this
machine's device (``harness/pipeline/plan.py``). Embeddings, maps, DirectProbe runs and sparse
baselines are listed as not estimated (minutes at most at the papers' scales, docs/benchmarks.md).

And what the run *can* decide, from the test split's size alone (:func:`reach`): for each claim
judged by equivalence, the smallest margin that many test texts could certify (where the two
models never disagree, and where they disagree on 10% of the texts) against the fixture's margin,
and how many texts that margin needs; for the PCA claim, the largest count of components the
split can show against the paper's "more than 200"; for a share of a gain, how many gained texts
an exact test needs to show it. A user enlarges a split before spending GPU hours on an
inconclusive answer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from harness.analysis import stats
from harness.errors import HarnessError
from harness.pipeline.build import (
    VERSIONS,
    Harness,
    finetune_inputs,
    finetune_version,
    probe_inputs,
)
from harness.pipeline.plan import Step, Throughput, identity_of, is_cached
from harness.store import Predictions

CROSS_CLAIMS = {"cross_task", "cross_task_distances"}


FROZEN_HEAD_CLAIMS = {"accuracy_gap", "cross_task", "discriminant_words", "no_overfitting", "partial_finetuning",
                      "pca_variance"}  # the claims whose evidence includes the frozen head (claims/evidence.frozen)


def needs_frozen_head(fx, claims: Sequence[str]) -> bool:
    """Whether a claim of the run trains the frozen head on the target task (seed_welch only where a
    protocol it compares is ``frozen``)."""
    welch = fx.claims.get("seed_welch", {})
    return bool(FROZEN_HEAD_CLAIMS & set(claims)) or (
        "seed_welch" in claims and "frozen" in (welch.get("a"), welch.get("b")))


def _measured_disagreement(h: Harness, fx, identity: str, target) -> float | None:
    """Where a run has been here before: the share of test texts on which the fine-tuned and the
    frozen model (first seed) disagree, from their cached predictions; None where either is not cached."""
    seed = fx.seeds[0]
    found = [h.store.find("finetune", finetune_version(target), finetune_inputs(identity, target, fx.fine_tune, seed)),
             h.store.find("probe", VERSIONS["probe"], probe_inputs(identity, target, fx.frozen_head, seed,
                                                                   max_length=fx.fine_tune.max_length))]
    if any(a is None for a in found):
        return None
    tuned, frozen = (Predictions.of(a, "test").correct for a in found)
    return float(np.mean(tuned != frozen)) if tuned.shape == frozen.shape else None


def fixture_plan(h: Harness, fx, claims: Sequence[str], speed: Throughput) -> tuple[list[str], list[Step]]:
    """Lines describing one fixture, and the steps its claims start from."""
    lines = [f"fixture {fx.name} ({fx.profile}; seeds {', '.join(map(str, fx.seeds))}; {fx.path})",
             f"  claims: {', '.join(claims)}"]
    identity = identity_of(fx.encoder)
    lines.append(f"  encoder: {fx.encoder.name}"
                 + (f" -> {identity.split('@')[-1][:12]}" if identity and identity.startswith("hub:") else "")
                 + ("" if identity else "  (not in the local Hugging Face cache: it will be downloaded)"))
    tasks = {}
    for table, spec in (("task", fx.task), ("other_task", fx.other_task)):
        if spec is None:
            continue
        try:
            task = h.task(spec)
        except HarnessError as exc:  # hub data not cached (offline), or absent local data
            lines.append(f"  {table}: cannot be read here ({type(exc).__name__}: {str(exc)[:160]})")
            continue
        tasks[table] = task
        sizes = " / ".join(f"{s} {len(task[s]):,}" for s in ("train", "validation", "test") if s in task.splits)
        lines.append(f"  {table}: {task.name}: {sizes}  ({task.source})")
    steps: list[Step] = []
    needs_cross = bool(CROSS_CLAIMS & set(claims)) or (
        "pca_variance" in claims and fx.claims["pca_variance"].get("cross_task_between"))
    partial = sorted(set(fx.claims.get("partial_finetuning", {}).get("trainable_layers", []))
                     | ({fx.claims["partial_finetuning"]["few"]} if "partial_finetuning" in fx.claims else set())
                     | {int(p[3:]) for p in (fx.claims.get("seed_welch", {}).get(k) for k in ("a", "b"))
                        if isinstance(p, str) and p.startswith("top")})
    target, other = tasks.get("task"), tasks.get("other_task")
    dim = 768
    for seed in fx.seeds:
        runs = [("fine-tune on the target task", target, fx.fine_tune)]
        if needs_cross:
            runs.append(("fine-tune on the other task", other, fx.fine_tune))
        runs += [(f"fine-tune the top {k} layer(s) only", target,
                  dataclasses.replace(fx.fine_tune, trainable_layers=k, snapshot_at=())) for k in partial]
        for what, task, config in runs:
            if task is None or identity is None:
                steps.append(Step(f"{what}, seed {seed}", "finetune", None, None))
                continue
            train = task["train"]
            sentences = getattr(train, "sentences", None)  # a token task batches sentences, not words
            n_steps = config.epochs * -(-len(sentences if sentences is not None else train) // config.batch_size)
            texts = [" ".join(words) for words in sentences] if sentences is not None else train.texts
            cached = is_cached(h, "finetune", finetune_inputs(identity, task, config, seed), finetune_version(task))
            seconds = None if cached else n_steps * speed.finetune_step(fx.encoder, config, texts)
            steps.append(Step(f"{what} ({task.name}), seed {seed}: {n_steps:,} steps", "finetune", cached, seconds))
        if target is not None and identity is not None and needs_frozen_head(fx, claims):
            head = fx.frozen_head
            n_head = head.epochs * -(-len(target["train"]) // head.batch_size)
            cached = is_cached(h, "probe", probe_inputs(identity, target, head, seed, max_length=fx.fine_tune.max_length))
            seconds = None if cached or head.kind == "logreg" else n_head * speed.head_step(dim)
            steps.append(Step(f"frozen {head.kind} head ({target.name}), seed {seed}: {n_head:,} steps", "probe",
                              cached, seconds))
    if target is not None:
        measured = _measured_disagreement(h, fx, identity, target) if identity is not None else None
        lines += ["  what the test split can decide:"] + [f"    {line}" for line in
                                                         reach(fx, claims, len(target["test"]), measured)]
    return lines, steps


# the claims judged by equivalence on the target task's test items (paper_says, where it depends)
EQUIVALENCE = {"cross_task": None, "accuracy_gap": "no_difference", "probe_accuracy": "no_gain",
               "sparse_baselines": "no_difference", "seed_welch": "no_difference"}
DISAGREEMENT = 0.10  # the rate of texts two models disagree on, for the second figure


def certifiable(n: int, alpha: float, disagree: float = 0.0) -> float:
    """The smallest equivalence margin ``n`` paired test texts can certify at ``alpha`` where the
    two models disagree on a share ``disagree`` of them, half each way (Tango's interval)."""
    half = int(round(disagree * n / 2))
    return stats.tost_paired_counts(half, half, n, 0.5, alpha).certifiable_margin


def texts_for(margin: float, alpha: float, disagree: float) -> int | None:
    """The fewest test texts that certify ``margin`` (None beyond 10 million)."""
    low, high = 2, 2
    while certifiable(high, alpha, disagree) >= margin:
        low, high = high, high * 2
        if high > 10_000_000:
            return None
    while high - low > max(1, low // 100):  # to 1%
        mid = (low + high) // 2
        low, high = (mid, high) if certifiable(mid, alpha, disagree) >= margin else (low, mid)
    return high


def reach(fx, claims: Sequence[str], n_test: int, measured: float | None = None) -> list[str]:
    """Lines saying, per claim, whether ``n_test`` test items can decide it (module docstring).
    ``measured``: the share of test texts on which the fine-tuned and the frozen model disagreed in
    a run before (cached predictions), used instead of the assumed 10% where given."""
    out = []
    for claim in claims:
        p = fx.claims.get(claim, {})
        if claim == "no_forgetting":
            out.append("no_forgetting: judged on the probe corpus's items (the fixture's `corpus`), not on this split")
        elif claim in EQUIVALENCE and (EQUIVALENCE[claim] is None or p.get("paper_says") == EQUIVALENCE[claim]):
            # the fine-tuned and frozen models' measured disagreement applies to their own comparison
            rate = measured if measured is not None and claim == "accuracy_gap" else DISAGREEMENT
            said = f"{rate:.0%}" + (" (measured in the cached run)" if rate is measured else "")
            n = min(n_test, p["max_items"]) if claim == "probe_accuracy" else n_test
            margin, alpha = p["margin"], p["alpha"]
            best, typical = certifiable(n, alpha), certifiable(n, alpha, rate)
            verdict = ("within reach" if typical < margin else
                       "within reach only if the models rarely disagree" if best < margin else "OUT OF REACH")
            need = texts_for(margin, alpha, rate)
            out.append(f"{claim}: {n:,} test items certify a margin of {best:.3f} at best (no disagreement) and "
                       f"{typical:.3f} where the models disagree on {said}; the fixture's margin "
                       f"{margin:g} is {verdict}" + (f" (about {need:,} items needed at {rate:.0%})"
                                                     if typical >= margin and need else "")
                       + ("; words counted in sentences certify less" if claim == "probe_accuracy" else ""))
        elif claim == "pca_variance":
            cap, least = n_test - 1, p.get("min_frozen", 0)
            out.append(f"pca_variance: {n_test:,} test texts show at most {cap:,} components (and the encoder's "
                       "width); the paper's 'more than " + f"{least}' is "
                       + ("within reach" if cap > least else f"OUT OF REACH (needs more than {least + 1} test texts)")
                       if least else f"pca_variance: {n_test:,} test texts show at most {cap:,} components")
        elif claim in ("partial_finetuning", "truncated_finetuning"):
            need, alpha = p["min_recovery"], p["alpha"]
            if 0 < need < 1:
                gained = math.ceil(math.log(alpha) / math.log(need))
                out.append(f"{claim}: a share of {need:g} is shown exactly only where at least {gained} texts are "
                           "gained and all kept (more where some are not)")
    return out or ["(no claim of this fixture is decided by a test on the split's size)"]


def render(h: Harness, selected: dict, speed: Throughput) -> str:
    """The plan for ``selected`` ({fixture name: (fixture, [claims])}) as text."""
    out = [f"Plan: nothing is computed. Device {h.device}; store {h.store.root}."]
    total, to_build, unknown = 0.0, 0, 0
    for fx, claims in selected.values():
        lines, steps = fixture_plan(h, fx, claims, speed)
        out += [""] + lines + ["  artifacts the claims start from:"]
        for s in steps:
            status = "cached" if s.cached else "to build" if s.cached is False else "unknown"
            estimate = f"  about {_duration(s.seconds)}" if s.seconds is not None else ""
            out.append(f"    {status:9s} {s.what}{estimate}")
            total += s.seconds or 0.0
            to_build += s.cached is False
            unknown += s.cached is None
        out.append("  plus embeddings, maps, DirectProbe runs and sparse baselines (not estimated)")
    out += ["", f"To build: {to_build} of these artifacts, about {_duration(total)} of fine-tuning and head training"
            + (f"; {unknown} unknown (inputs not on this machine)" if unknown else "") + "."]
    out += [f"Note: {n}" for n in dict.fromkeys(speed.notes)]
    out.append("Estimates: a few steps timed on this device with each task's first training texts and a "
               "randomly initialised encoder of the fixture's shape.")
    return "\n".join(out)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
