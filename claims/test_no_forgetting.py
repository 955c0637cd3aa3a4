"""No forgetting (Merchant et al. 2020, section 4): linguistic probes trained on the fine-tuned
encoder score close to the same probes on the pre-trained one.

Zhou and Srikumar's MLP probe (harness/analysis/probes.py) on each word (part of speech) or each
head-dependent pair (dependency relation) of a CoNLL-U treebank (harness/data/tokens.py; words as the
average of their sub-word vectors, pairs as head then dependent), at each layer, under the
pre-trained encoder and under the encoder fine-tuned on the fixture's (sentence) task; the same
test items for both, compared by equivalence within the fixture's margin (claims/judges.py).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from claims import evidence, figures, judges
from harness.analysis.stats import majority_share
from harness.data.tokens import load_conllu

CLAIM = "no_forgetting"


def test_no_forgetting(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    pytest.importorskip("conllu", reason="the no-forgetting claim reads CoNLL-U: pip install -e '.[tokens]'")
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
    correct: dict[str, list[np.ndarray]] = {name: [np.asarray(next(results).test_correct) for _ in layers]
                                            for name in models}
    chance = majority_share(task["test"].labels[rows["test"]])
    sentences = evidence.sentences_of(task, "test", rows["test"])  # the sampling unit: a sentence
    verdict = judges.no_forgetting(fx.name, fx.seeds, layers, correct["pre-trained"],
                                   [correct[f"seed {s}"] for s in fx.seeds], chance, params, clusters=sentences)
    verdict = replace(verdict, details={**verdict.details, "probe task": f"{task.name} ({corpus.name}), "
                                        f"{len(rows['train'])} / {len(rows['validation'])} / {len(rows['test'])} items"},
                      figures=(figures.layer_similarity(
                          f"{params['task'].upper()} probe accuracy per layer (seed {fx.seeds[0]})", layers,
                          [("pre-trained", [float(c.mean()) for c in correct["pre-trained"]]),
                           ("fine-tuned", [float(c.mean()) for c in correct[f"seed {fx.seeds[0]}"]])]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
