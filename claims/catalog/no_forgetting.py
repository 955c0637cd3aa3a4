"""Merchant et al. 2020, section 4: linguistic probes trained on the fine-tuned encoder score close
to the same probes on the pre-trained one (no forgetting).

Zhou and Srikumar's MLP probe (harness/analysis/probes.py) on each word (part of speech) or each
head-dependent pair (dependency relation) of a CoNLL-U treebank (harness/data/tokens.py; words as
the average of their sub-word vectors, pairs as head then dependent), at each layer, under the
pre-trained encoder and under the encoder fine-tuned on the fixture's (sentence) task; the same
test items for both, compared by equivalence within the fixture's margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.analysis import stats
from harness.analysis.stats import majority_share

from .. import evidence, figures
from ..judges import (
    CONTRADICTED,
    combine,
    intervals_of,
    measured_value,
    run_value,
    same_conclusion,
    seed_key,
    verdict,
)
from ..judges import Evidence as Base
from ..spec import ClaimSpec, Param, alpha, chance_floor, check_probe_alphas, margin, probe_params
from ..verdict import Verdict

SPEC = ClaimSpec(
    name="no_forgetting",
    source="Merchant et al. 2020, section 4 (probing)",
    sentence=("fine-tuning does not make BERT forget linguistic structure: probes of part of "
              "speech, dependencies and other tasks trained on the fine-tuned encoder score close "
              "to the same probes on the pre-trained one"),
    decides=("Zhou and Srikumar's MLP probe (grid `hidden` x `hidden`, L2 `alphas`, `restarts` "
             "initialisations) on each word (`task = \"pos\"`) or head-dependent pair (`\"dep\"`) of "
             "the CoNLL-U `corpus`, per layer, under the pre-trained and the fine-tuned encoder, on "
             "the same test items: **reproduced** when at every layer (`layers`) the paired "
             "(1 - 2 alpha) interval of fine-tuned - pre-trained accuracy lies inside (-`margin`, "
             "`margin`) with both probes above chance, **contradicted** when at some layer it lies "
             "wholly outside, **inconclusive** otherwise"),
    params=(
        Param("corpus", "path", None, "the CoNLL-U treebank to probe", required=True),
        Param("task", "str", "pos", "what each item's label is", choices=("pos", "dep")),
        Param("layers", "str", "all", "the layers judged", choices=("all", "last")),
        *probe_params(),
        alpha(0.05), margin(), chance_floor(),
    ),
    figures=("layer_similarity",),
    headline=('finetuned_accuracy_last_layer', 'pretrained_accuracy_last_layer'),
    controls=("representations destroyed by fine-tuning (contradicted)",
              "probes at chance on both (inconclusive, never reproduced)"),
    check=check_probe_alphas,
)


@dataclass(frozen=True, kw_only=True)
class Evidence(Base):
    """The probe's correctness on each test item, per layer (``layers``), under the pre-trained
    encoder (``pretrained[layer]``) and under the fine-tuned one (``finetuned[seed][layer]``);
    ``chance``: the test items' majority-label rate; ``sentences``: each test item's sentence (the
    sampling unit) or None; ``probe_task``: the treebank and its split sizes, in words."""

    layers: Sequence[int]
    pretrained: Sequence[np.ndarray]
    finetuned: Sequence[Sequence[np.ndarray]]
    chance: float
    sentences: np.ndarray | None = None
    probe_task: str = ""


def gather(pipeline, fx) -> Evidence:
    params = fx.claim(SPEC.name)
    pytest.importorskip("conllu", reason="the no-forgetting claim reads CoNLL-U: pip install -e '.[tokens]'")
    from harness.data.tokens import load_conllu

    corpus = Path(params["corpus"])  # resolved (and, where absent, the run skipped) by the fixture loader
    task = load_conllu(corpus, params["task"], seed=0)
    rows = evidence.probe_rows(task, params["max_items"])
    config = evidence.probe_config(params)
    models = {"pre-trained": fx.encoder} | {f"seed {s}": evidence.finetuned(pipeline, fx, s) for s in fx.seeds}
    # every layer of the fine-tuned encoder (the same shape as the pre-trained one)
    layers = list(range(1, evidence.num_layers(models[f"seed {fx.seeds[0]}"]) + 1))
    y = {s: task[s].labels[rows[s]] for s in rows}
    jobs = []  # (model, layer) in order; the probes are trained side by side
    for model in models.values():
        reps = {s: pipeline.token_embeddings(model, task, s, layers=layers, max_length=512) for s in rows}
        for layer in layers:
            x = {s: reps[s].array(f"layer_{layer}.npy")[rows[s]] for s in rows}
            jobs.append((x["train"], y["train"], x["validation"], y["validation"], x["test"], y["test"], config, 0))
    results = iter(pipeline.zhou_probes(jobs))
    correct = {name: [np.asarray(next(results).test_correct) for _ in layers] for name in models}
    return Evidence(
        fixture=fx.name, seeds=fx.seeds, layers=layers, pretrained=correct["pre-trained"],
        finetuned=[correct[f"seed {s}"] for s in fx.seeds], chance=majority_share(task["test"].labels[rows["test"]]),
        sentences=evidence.sentences_of(task, "test", rows["test"]),
        probe_task=f"{task.name} ({corpus.name}), "
                   f"{len(rows['train'])} / {len(rows['validation'])} / {len(rows['test'])} items")


def judge(ev: Evidence, params: dict[str, Any]) -> Verdict:
    """Per layer, the probe's per-item correctness on the same test items under the pre-trained
    encoder (``pretrained[layer_index]``) and under the fine-tuned one (``finetuned[seed][layer]``):
    equivalent within ``margin`` at every layer (paired TOST), with both probes above chance +
    ``min_above_chance`` (reproduced); a difference wholly beyond the margin at some layer
    (contradicted: forgetting, or a gain, shown); inconclusive otherwise."""
    seeds, layers, pretrained, finetuned, chance = ev.seeds, ev.layers, ev.pretrained, ev.finetuned, ev.chance
    clusters = ev.sentences
    alpha, margin, floor = params["alpha"], params["margin"], params["min_above_chance"]
    judged = list(range(len(layers))) if params["layers"] == "all" else [len(layers) - 1]
    per_seed, pvalues, notes, diffs, lows, highs = [], {}, [], [], [], []
    for i, seed in enumerate(seeds):
        layer_conclusions, d_seed, lo_seed, hi_seed = [], [], [], []
        for k in range(len(layers)):
            eq = (stats.tost_paired(finetuned[i][k], pretrained[k], margin, alpha) if clusters is None else
                  stats.tost_paired_clustered(finetuned[i][k], pretrained[k], clusters, margin, alpha))
            d_seed.append(eq.difference)
            lo_seed.append(eq.low)
            hi_seed.append(eq.high)
            if k not in judged:
                continue
            premise = all(stats.above_chance(c, chance, floor) < alpha for c in (finetuned[i][k], pretrained[k]))
            if not premise:
                notes.append(f"seed {seed}, layer {layers[k]}: a probe is not above chance ({chance:.3f}) + {floor:g}")
            layer_conclusions.append(same_conclusion(eq, premise, len(judged) * len(seeds)))
            pvalues[seed_key(f"TOST layer {layers[k]}", seeds, i)] = eq.pvalue
        diffs.append(d_seed)
        lows.append(lo_seed)
        highs.append(hi_seed)
        per_seed.append(CONTRADICTED if CONTRADICTED in layer_conclusions else combine(layer_conclusions))
    measured: dict[str, Any] = {}
    intervals: dict[str, Any] = {}
    for k in judged:
        key = f"difference_layer_{layers[k]}"
        measured[key] = measured_value([d[k] for d in diffs])
        intervals[key] = intervals_of([(lo[k], hi[k]) for lo, hi in zip(lows, highs, strict=True)])
    measured["pretrained_accuracy_last_layer"] = run_value(float(np.mean(pretrained[-1])))
    measured["finetuned_accuracy_last_layer"] = measured_value([float(np.mean(f[-1])) for f in finetuned])
    measured["chance"] = run_value(chance)
    details = {f"probe accuracy per layer {list(layers)}": {
        "pre-trained": [round(float(np.mean(c)), 4) for c in pretrained],
        "fine-tuned (per seed)": [[round(float(np.mean(c)), 4) for c in f] for f in finetuned]}}
    if ev.probe_task:
        details["probe task"] = ev.probe_task
    return verdict(SPEC, ev, per_seed, params, measured=measured, intervals=intervals,
                   details=details, pvalues=pvalues, notes=notes,
                   criterion=(f"probe accuracy, fine-tuned minus pre-trained, on the same test items: the "
                              f"{1 - 2 * alpha:.0%} paired interval inside (-{margin:g}, {margin:g}) at "
                              f"{'every layer' if params['layers'] == 'all' else 'the last layer'} with both "
                              "probes above chance (reproduced), wholly outside at some layer (contradicted)"))


def draw(ev: Evidence, v: Verdict, params: dict[str, Any]) -> tuple:
    return (figures.layer_similarity(
        f"{params['task'].upper()} probe accuracy per layer (seed {ev.seeds[0]})", ev.layers,
        [("pre-trained", [float(c.mean()) for c in ev.pretrained]),
         ("fine-tuned", [float(c.mean()) for c in ev.finetuned[0]])]),)
