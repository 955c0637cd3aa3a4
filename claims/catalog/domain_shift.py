"""Merchant et al. 2020: fine-tuning changes the representations of texts from the task's own
domain more than those of other texts.

The target task's texts (in-domain) and the other task's texts (``[other_task]``, which must be
another domain: SST-2 reviews against TREC questions, generated reviews against generated
questions) are encoded at every layer by the pre-trained and by the fine-tuned encoder; per layer,
linear CKA and RSA between the two. Both sets are cut to the same number of texts (CKA and RSA
estimates depend on n). The fixture's ``measure`` decides, with jackknife replicates over each
side's texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis import stats

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_SAMPLING_MODEL,
    REPRODUCED,
    decide,
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
    name="domain_shift",
    source="Merchant et al. 2020, Fig. 5",
    sentence="out-of-domain inputs move less than in-domain ones during fine-tuning",
    decides=("per layer, similarity (`measure`) of the pre-trained and the fine-tuned encoder on "
             "in-domain texts and on the other task's texts: averaged over the top `top_layers` "
             "layers, out-of-domain minus in-domain similarity: **reproduced** when shown above "
             "`min_gap` on every seed, **contradicted** when shown below -`min_gap` (one-sided "
             "jackknife tests over each side's texts, at `alpha`; `alpha` / seeds to "
             "contradict), **inconclusive** otherwise"),
    params=(
        Param("measure", "str", "cka", "similarity measure", choices=("cka", "rsa")),
        Param("pooling", "str", "mean", "token pooling", choices=("first", "mean")),
        Param("split", "str", "test", "whose texts", choices=SPLIT),
        Param("top_layers", "int", 2, "top layers averaged", low=1),
        Param("min_gap", "float", 0.02, "similarity gap that counts", low=0.0),
        Param("max_texts", "int", 500, "texts per side", low=2),
        alpha(0.05),
    ),
    figures=("layer_similarity",),
    headline=('gap',),
    needs=("other_task",),
    controls=("out-of-domain texts that are the in-domain ones (not reproduced)",),
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """Per measure (``cka``, ``rsa``) and seed, the similarity of each layer in ``layers`` before
    and after fine-tuning on the in-domain and on the out-of-domain texts; ``replicates``
    (in-domain, out-of-domain): the same on each jackknife sample of that side's texts, or None;
    ``texts``: the texts per side; ``tasks``: the in-domain and the out-of-domain task's names."""

    layers: Sequence[int]
    in_domain: dict[str, Sequence[Sequence[float]]]
    out_of_domain: dict[str, Sequence[Sequence[float]]]
    replicates: tuple[dict[str, Sequence[np.ndarray]], dict[str, Sequence[np.ndarray]]] | None = None
    texts: int | None = None
    tasks: tuple[str, str] = ("in-domain", "out-of-domain")


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    split = params["split"]
    tasks = {"in": evidence.target_task(pipeline, fx), "out": evidence.other_task(pipeline, fx)}
    n = min(len(tasks["in"][split]), len(tasks["out"][split]), params["max_texts"])
    rows = {side: np.sort(np.random.default_rng(0).choice(len(t[split]), n, replace=False))
            for side, t in tasks.items()}
    sims = {side: {"cka": [], "rsa": []} for side in tasks}
    replicates = {side: {"cka": [], "rsa": []} for side in tasks}
    layers: Sequence[int] = ()
    for seed in fx.seeds:
        tuned = evidence.finetuned(pipeline, fx, seed)
        for side, task in tasks.items():
            measured = evidence.layer_similarity(pipeline, fx, tuned, task, split, params["pooling"], rows=rows[side])
            layers = measured.layers
            for name in ("cka", "rsa"):
                sims[side][name].append(measured.values[name])
                replicates[side][name].append(measured.replicates[name])
    return Evidence(fixture=fx.name, seeds=fx.seeds, layers=layers, in_domain=sims["in"], out_of_domain=sims["out"],
                    replicates=(replicates["in"], replicates["out"]), texts=n,
                    tasks=(tasks["in"].name, tasks["out"].name))


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Fine-tuning changes in-domain texts more than out-of-domain ones: averaged over the top
    ``top_layers`` layers, out-of-domain minus in-domain similarity (``measure``) above
    ``min_gap`` (reproduced), below ``-min_gap`` (contradicted), inconclusive between.

    ``replicates`` (in-domain, out-of-domain): per measure and seed, the similarities on each
    leave-a-group-out sample of that side's texts (``evidence.LayerSimilarity``). With them the gap
    is a difference of two independent jackknife estimates, shown above ``min_gap`` at ``alpha``
    (reproduced) or below ``-min_gap`` at ``alpha / seeds`` (contradicted); without, the point
    values decide and the verdict says it is not calibrated."""
    seeds, layers, in_domain, out_of_domain, replicates = ev.seeds, ev.layers, ev.in_domain, ev.out_of_domain, \
        ev.replicates
    measure, top, gap_min, alpha = params["measure"], params["top_layers"], params["min_gap"], params["alpha"]
    if not 1 <= top <= len(layers):
        raise ValueError(f"top_layers must be in 1..{len(layers)}, got {top}")
    gaps, ins, outs, per_seed, bounds = [], [], [], [], []
    pvalues: dict[str, float] = {}
    for i, (sims_in, sims_out) in enumerate(zip(in_domain[measure], out_of_domain[measure], strict=True)):
        ins.append(float(np.mean(sims_in[-top:])))
        outs.append(float(np.mean(sims_out[-top:])))
        gaps.append(outs[-1] - ins[-1])
        if replicates is None:
            per_seed.append(REPRODUCED if gaps[-1] > gap_min else CONTRADICTED if gaps[-1] < -gap_min
                            else INCONCLUSIVE)
            continue
        r_in, r_out = (np.asarray(side[measure][i], float)[:, -top:].mean(axis=1) for side in replicates)
        gap = stats.jackknife_difference(stats.jackknife(outs[-1], r_out), stats.jackknife(ins[-1], r_in))
        p_hold, p_fail = gap.p_above(gap_min), gap.p_below(-gap_min)
        per_seed.append(decide([p_hold], [p_fail], alpha, len(seeds)))
        pvalues[seed_key("gap above min_gap (one-sided jackknife t)", seeds, i)] = p_hold
        bounds.append(gap.interval(1 - 2 * alpha))
    measured = {f"{measure}_in_domain_top{top}": measured_value(ins), f"{measure}_out_of_domain_top{top}": measured_value(outs),
                "gap": measured_value(gaps)}
    details = {f"{side} {name} per layer {list(layers)}": [[float(v) for v in s] for s in sims]
               for side, table in (("in-domain", in_domain), ("out-of-domain", out_of_domain))
               for name, sims in table.items()}
    notes = []
    if replicates is None:
        notes.append(NO_SAMPLING_MODEL.format(what="The similarity gap"))
    else:
        details["sampling"] = ("delete-a-group jackknife over each side's texts, the two variances added "
                               f"(Welch-Satterthwaite degrees of freedom); interval at {1 - 2 * alpha:.0%}")
    criterion = (f"{measure.upper()} between the pre-trained and the fine-tuned encoder, mean of the top {top} "
                 f"layer(s): out-of-domain minus in-domain > {gap_min:g} (in-domain texts change more: "
                 f"reproduced), < -{gap_min:g} (contradicted)"
                 + (", each shown by a one-sided jackknife test (alpha; alpha / seeds to contradict)"
                    if replicates is not None else "") + ", on every seed")
    if ev.texts is not None:
        details |= {"texts per side": ev.texts, "out-of-domain texts": ev.tasks[1]}
    return verdict(SPEC, ev, per_seed, params, criterion=criterion, measured=measured,
                   details=details, notes=notes, pvalues=pvalues,
                   intervals={"gap": intervals_of(bounds)} if bounds else None)


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    m = params["measure"]
    return (figures.layer_similarity(
        f"{m.upper()} per layer, in- vs out-of-domain texts (seed {ev.seeds[0]})", ev.layers,
        [(f"in-domain ({ev.tasks[0]})", ev.in_domain[m][0]), (f"out-of-domain ({ev.tasks[1]})", ev.out_of_domain[m][0])]),)
