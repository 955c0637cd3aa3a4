"""Hart, "Task-specific training": is the difference between two protocols' per-seed test
accuracies significant? Judged on the per-text outcomes, with the test split's sampling error added
to the spread across seeds.

Protocols: ``frozen`` (a head on the untouched encoder), ``finetuned`` (the fixture's
[fine_tune]), ``top<k>`` (the same with only the top k layers trainable; Hart's ``top2``).
Run with several seeds (``seeds = [...]`` in the fixture, or ``--seeds N``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness.analysis import stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPRODUCED,
    accuracies,
    intervals_of,
    measured_value,
    run_value,
    same_conclusion,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import (
    PROTOCOL,
    ClaimSpec,
    Param,
    alpha,
    chance_floor,
    margin,
)
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="seed_welch",
    source="Hart, 'Task-specific training: the benefits of fine-tuning BERT'",
    sentence={
        "no_difference": ("frozen vs fully fine-tuned BERT, 10 runs each on the same split: Welch "
                          "t = -0.91, df = 13, p = 0.38, not significant"),
        "a_better": "protocol a is more accurate than protocol b across runs",
        "b_better": "protocol b is more accurate than protocol a across runs",
    },
    decides=("per-seed test accuracies of protocols `a` and `b` (`frozen`, `finetuned`, "
             "`top<k>`), with a variance that adds the test split's sampling error to the spread "
             "across seeds (zero spread certifies nothing). `no_difference`: **reproduced** only "
             "by equivalence (TOST: the (1 - 2 alpha) interval of the mean difference inside "
             "(-`margin`, `margin`)), **contradicted** when it lies wholly outside; a direction: "
             "**reproduced** by a one-sided p < `alpha`, **contradicted** when the interval shows "
             "the other way or lies inside the margin. Hart's Welch t is reported beside. "
             "**inconclusive** with fewer than `min_seeds` seeds"),
    params=(
        Param("a", "str", "frozen", "first protocol", pattern=PROTOCOL),
        Param("b", "str", "finetuned", "second protocol", pattern=PROTOCOL),
        Param("paper_says", "str", "no_difference", "what the paper found",
              choices=("a_better", "b_better", "no_difference")),
        alpha(0.05), margin(), chance_floor(),
        Param("min_seeds", "int", 3, "seeds needed to judge", low=2),
    ),
    figures=("seed_boxes",),
    headline=('finetuned_accuracy', 'frozen_accuracy'),
    controls=("two protocols at chance (never a reproduced 'no difference')",
              "a real gap of one standard deviation with 3 seeds (not reproduced)"),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per seed, each test text's correctness under the protocols ``a`` and ``b`` (named by
    ``a_name`` and ``b_name``: ``frozen``, ``finetuned`` or ``top<k>``), on the same texts;
    ``chance``: the test split's majority-class rate."""

    a_name: str
    b_name: str
    a: Sequence[np.ndarray]
    b: Sequence[np.ndarray]
    chance: float


def outcomes(pipeline, fx, protocol: str, seed: int) -> np.ndarray:
    """Per-text test outcomes of a protocol (``frozen``, ``finetuned`` or ``top<k>``, checked when
    the fixture was loaded), from the sealed prediction arrays."""
    if protocol == "frozen":
        art = evidence.frozen(pipeline, fx, seed)
    elif protocol == "finetuned":
        art = evidence.finetuned(pipeline, fx, seed)
    else:
        config = replace(fx.fine_tune, trainable_layers=int(protocol[3:]), snapshot_at=())
        art = pipeline.fine_tuned(fx.encoder, evidence.target_task(pipeline, fx), config, seed)
    return evidence.predictions(art).correct


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    a, b = params["a"], params["b"]
    return Evidence(fixture=fx.name, seeds=fx.seeds, a_name=a, b_name=b,
                    a=[outcomes(pipeline, fx, a, s) for s in fx.seeds],
                    b=[outcomes(pipeline, fx, b, s) for s in fx.seeds], chance=evidence.chance(pipeline, fx))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Hart's comparison of two protocols over runs (frozen vs fully fine-tuned, 10 runs each), from
    each seed's per-text outcomes on the same test texts.

    The difference of the mean accuracies is judged with a variance that adds the test split's
    sampling error to the spread across seeds (``stats.seed_difference``): Welch's alone ignores
    that every seed is scored on the same texts, and certifies from zero spread (a deterministic
    frozen head). ``paper_says = "no_difference"`` (Hart: p = 0.38): equivalence within ``margin``
    (TOST on that variance), both means above chance (``chance``: the majority-class rate) +
    ``min_above_chance``; ``a_better`` / ``b_better``: one-sided on that variance, contradicted
    when the advantage's interval lies below 0 or inside the margin. Hart's Welch t-test on the
    per-seed accuracies is reported beside. Fewer than ``min_seeds`` seeds: inconclusive."""
    seeds, a_name, b_name, correct_a, correct_b, chance = ev.seeds, ev.a_name, ev.b_name, ev.a, ev.b, ev.chance
    alpha, margin, says, least = params["alpha"], params["margin"], params["paper_says"], params["min_seeds"]
    acc_a, acc_b = accuracies(correct_a), accuracies(correct_b)
    s_a, s_b = stats.summarize(acc_a), stats.summarize(acc_b)
    measured: dict[str, Any] = {f"{a_name}_accuracy": measured_value(acc_a), f"{b_name}_accuracy": measured_value(acc_b),
                                "seeds": run_value(len(seeds))}
    if len(seeds) < least:
        return verdict(SPEC, ev, [INCONCLUSIVE], params, measured=measured,
                       criterion=f"needs at least {least} seeds (run with --seeds {least})",
                       notes=[f"{len(seeds)} seed(s) of the {least} needed"])
    t = stats.welch_t(acc_a, acc_b)
    diff = stats.seed_difference(correct_a, correct_b, (a_name, b_name))
    eq = diff.equivalence(margin, alpha)
    measured |= {k: run_value(v) for k, v in (("t", t.t), ("df", t.df), ("p_welch", t.pvalue),
                                             ("difference", eq.difference), ("se_seeds", diff.se_seeds),
                                             ("se_test_split", diff.se_split),
                                             ("smallest_certifiable_margin", eq.certifiable_margin))}
    intervals = {"difference": intervals_of([(eq.low, eq.high)])}
    notes = [f"{name} gave the same test accuracy on every seed (deterministic): the test split's sampling "
             "error alone bounds it" for name in diff.deterministic]
    if says == "no_difference":
        floor = params["min_above_chance"]
        premise = min(s_a.mean, s_b.mean) > chance + floor
        if not premise:
            notes.append(f"a protocol's mean accuracy is not above chance ({chance:.3f}) + {floor:g}")
        conclusion = same_conclusion(eq, premise)
        pvalues = {f"TOST {a_name} = {b_name} (seeds and test split)": eq.pvalue}
        rule = (f"equivalence: the {1 - 2 * alpha:.0%} interval of {a_name} - {b_name} (variance across seeds plus "
                f"the test split's) inside (-{margin:g}, {margin:g}) (reproduced), wholly outside (contradicted)")
    else:
        p = diff.p_greater() if says == "a_better" else (1.0 - diff.p_greater() if diff.se > 0 else 1.0)
        high = eq.high if says == "a_better" else -eq.low
        conclusion = CONTRADICTED if high < 0 or eq.equivalent else REPRODUCED if p < alpha else INCONCLUSIVE
        better = a_name if says == "a_better" else b_name
        pvalues = {f"one-sided, {better} better (seeds and test split)": p}
        measured["p_one_sided"] = run_value(p)
        rule = (f"{better} more accurate: one-sided p < {alpha:g} on the variance across seeds plus the test "
                f"split's (reproduced); the {1 - 2 * alpha:.0%} interval of its advantage below 0 or inside "
                f"(-{margin:g}, {margin:g}) (contradicted)")
    return verdict(SPEC, ev, [conclusion], params, criterion=rule, measured=measured,
                   intervals=intervals, pvalues=pvalues, notes=notes,
                   details={"spread (sd) across seeds": {a_name: s_a.sd, b_name: s_b.sd},
                            "Hart's test (reported)": "Welch's t on the per-seed accuracies alone"})


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    return (figures.seed_boxes(f"Test accuracy per seed ({len(ev.seeds)} seeds)",
                               [(ev.a_name, accuracies(ev.a)), (ev.b_name, accuracies(ev.b))]),)
