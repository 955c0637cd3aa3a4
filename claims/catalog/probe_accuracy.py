"""Zhou and Srikumar 2022, section 4.1: fine-tuning improves the probe accuracy.

Their MLP probe (harness/analysis/probes.py: hidden sizes and L2 weight grid-searched on validation
accuracy, the best setting trained from several initialisations) on the last layer of the
pre-trained and of the fine-tuned encoder, on the same items: words (POS, PS-role, PS-fxn),
head-dependent pairs (DEP) or, for a text task (TREC-50), each text's first token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.analysis import stats
from harness.analysis.stats import majority_share

from .. import evidence, figures
from ..judges import (
    INCONCLUSIVE,
    better_conclusion,
    paired_measured,
    paired_outcome,
    run_value,
    same_conclusion,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import ClaimSpec, Param, alpha, chance_floor, check_probe_alphas, margin, probe_params
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="probe_accuracy",
    source="Zhou and Srikumar 2022, section 4.1 (Table 2)",
    sentence={
        "improves": ("fine-tuning improves the probe accuracy almost always: a probe trained on the "
                     "fine-tuned representation beats the same probe on the original one"),
        "no_gain": ("the exception: BERT-small on PS-fxn, where the probe on the fine-tuned "
                    "representation does not beat the original's"),
    },
    decides=("Zhou and Srikumar's MLP probe (grid `hidden` x `hidden`, L2 `alphas`, `restarts` "
             "initialisations) on the last layer of the pre-trained and of the fine-tuned encoder, "
             "the same test items (words, word pairs, or texts' first token): `improves` is "
             "**reproduced** by a one-sided McNemar test at `alpha`, **contradicted** when the paired "
             "interval shows a loss or lies inside (-`margin`, `margin`); `no_gain` is **reproduced** "
             "by equivalence within `margin`; else **inconclusive**"),
    params=(
        Param("paper_says", "str", "improves", "what the paper found on this model and task",
              choices=("improves", "no_gain")),
        *probe_params(), alpha(0.05), margin(), chance_floor(),
    ),
    figures=("accuracy_bars",),
    headline=('finetuned_accuracy', 'pretrained_accuracy'),
    controls=("the fine-tuned representation is the original one (never reproduced)",
              "a probe that loses accuracy (contradicted)"),
    check=check_probe_alphas,
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """The probe's correctness on each test item (its first initialisation) on the pre-trained
    encoder's last layer and, per seed, the fine-tuned one's; ``chance``: the test items'
    majority-label rate; ``restarts``: each initialisation's test accuracy
    (``{"pre-trained": [[...]], "fine-tuned": [[...] per seed]}``), reported as mean and sd as the
    paper does; ``sentences``: each test item's sentence (a token task's sampling unit) or None;
    ``settings``: the chosen probe settings (pre-trained, fine-tuned on the first seed)."""

    pretrained: np.ndarray
    finetuned: Sequence[np.ndarray]
    chance: float
    restarts: dict[str, Sequence[Sequence[float]]] | None = None
    sentences: np.ndarray | None = None
    settings: Sequence[str] = field(default=())
    task: str = ""


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    task = evidence.target_task(pipeline, fx)
    pretrained, *tuned = evidence.zhou_probes(
        pipeline, [fx.encoder, *(evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds)], task, params)
    return Evidence(
        fixture=fx.name, seeds=fx.seeds, task=task.name,
        pretrained=np.asarray(pretrained.test_correct), finetuned=[np.asarray(t.test_correct) for t in tuned],
        chance=majority_share(task["test"].labels[evidence.probe_rows(task, params["max_items"])["test"]]),
        restarts={"pre-trained": [pretrained.test_accuracy], "fine-tuned": [t.test_accuracy for t in tuned]},
        sentences=evidence.probe_sentences(task, params),
        settings=[f"{pretrained.hidden} L2 {pretrained.alpha:g}", f"{tuned[0].hidden} L2 {tuned[0].alpha:g}"])


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """The probe's per-item correctness on the same test items, on the pre-trained and (per seed)
    the fine-tuned representation. ``improves``: one-sided McNemar (see :func:`better_conclusion`);
    ``no_gain``: equivalence within ``margin`` with both probes above chance. ``restarts``: the
    test accuracy of each initialisation (``{"pre-trained": [[...]], "fine-tuned": [[...] per seed]}``),
    reported as mean and sd as the paper does."""
    seeds, correct_pretrained, correct_finetuned, chance = ev.seeds, ev.pretrained, ev.finetuned, ev.chance
    restarts, clusters = ev.restarts, ev.sentences
    alpha, margin, floor, says = params["alpha"], params["margin"], params["min_above_chance"], params["paper_says"]
    results, per_seed, pvalues, notes = [], [], {}, []
    for i, seed in enumerate(seeds):
        r = paired_outcome(np.asarray(correct_finetuned[i]), np.asarray(correct_pretrained), alpha, margin, clusters)
        results.append(r)
        premise = all(stats.above_chance(c, chance, floor) < alpha for c in (correct_finetuned[i], correct_pretrained))
        if not premise:
            notes.append(f"seed {seed}: a probe is not above chance ({chance:.3f}) + {floor:g}")
        if says == "improves":
            pvalues[seed_key("McNemar fine-tuned > pre-trained probe", seeds, i)] = r["p_a_greater"]
            per_seed.append(better_conclusion(r, "a", alpha, len(seeds)) if premise else INCONCLUSIVE)
        else:
            pvalues[seed_key("TOST probe difference", seeds, i)] = r["tost"].pvalue
            per_seed.append(same_conclusion(r["tost"], premise, len(seeds)))
    measured, intervals, details = paired_measured("finetuned", "pretrained", results, alpha, says == "no_gain")
    measured["chance"] = run_value(chance)
    if restarts:
        for name, runs in restarts.items():
            details[f"{name} probe, test accuracy per initialisation"] = [[round(float(v), 4) for v in run]
                                                                          for run in runs]
    if ev.settings:
        details[f"probe setting (pre-trained, fine-tuned seed {seeds[0]})"] = list(ev.settings)
    criterion = ({"improves": "probe accuracy on the fine-tuned representation above the pre-trained one's, "
                              f"one-sided McNemar p < {alpha:g} on the same test items, both above chance",
                  "no_gain": f"probe accuracies equivalent within {margin:g} (paired TOST at {alpha:g})"}[says]
                 + ", on every seed")
    return verdict(SPEC, ev, per_seed, params, criterion=criterion, measured=measured,
                   intervals=intervals, details=details, pvalues=pvalues, notes=notes)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    runs = ev.restarts or {"pre-trained": [[float(np.mean(ev.pretrained))]],
                           "fine-tuned": [[float(np.mean(f))] for f in ev.finetuned]}
    return (figures.accuracy_bars(
        f"Probe accuracy on {ev.task}, mean of {len(runs['pre-trained'][0])} initialisations "
        "(Zhou and Srikumar, Table 2)",
        [("pre-trained", float(np.mean(runs["pre-trained"][0])), None, v.paper.get("pretrained_accuracy")),
         (f"fine-tuned (seed {ev.seeds[0]})", float(np.mean(runs["fine-tuned"][0])), None,
          v.paper.get("finetuned_accuracy"))]),)
