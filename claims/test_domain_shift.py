"""In-domain vs out-of-domain (Merchant et al. 2020): fine-tuning changes the representations of
texts from the task's own domain more than those of other texts.

The target task's texts (in-domain) and the other task's texts (``[other_task]``, which must be
another domain: SST-2 reviews against TREC questions, generated reviews against generated
questions) are encoded at every layer by the pre-trained and by the fine-tuned encoder; per layer,
linear CKA and RSA between the two. Both sets are cut to the same number of texts (CKA and RSA
estimates depend on n). The fixture's ``measure`` decides, with jackknife replicates over
each side's texts (claims/judges.py).
"""

from dataclasses import replace

import numpy as np

from claims import evidence, figures, judges

CLAIM = "domain_shift"


def test_domain_shift(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    split = params["split"]
    tasks = {"in": evidence.target_task(pipeline, fx), "out": evidence.other_task(pipeline, fx)}
    n = min(len(tasks["in"][split]), len(tasks["out"][split]), params["max_texts"])
    rows = {side: np.sort(np.random.default_rng(0).choice(len(t[split]), n, replace=False))
            for side, t in tasks.items()}
    sims = {side: {"cka": [], "rsa": []} for side in tasks}
    replicates = {side: {"cka": [], "rsa": []} for side in tasks}
    layers = None
    for seed in fx.seeds:
        tuned = evidence.finetuned(pipeline, fx, seed)
        for side, task in tasks.items():
            measured = evidence.layer_similarity(pipeline, fx, tuned, task, split, params["pooling"], rows=rows[side])
            layers = measured.layers
            for name in ("cka", "rsa"):
                sims[side][name].append(measured.values[name])
                replicates[side][name].append(measured.replicates[name])
    verdict = judges.domain_shift(fx.name, fx.seeds, layers, sims["in"], sims["out"], params,
                                  (replicates["in"], replicates["out"]))
    m = params["measure"]
    verdict = replace(verdict, details={**verdict.details, "texts per side": n,
                                        "out-of-domain texts": tasks["out"].name},
                      figures=(figures.layer_similarity(
                          f"{m.upper()} per layer, in- vs out-of-domain texts (seed {fx.seeds[0]})", layers,
                          [(f"in-domain ({tasks['in'].name})", sims["in"][m][0]),
                           (f"out-of-domain ({tasks['out'].name})", sims["out"][m][0])]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
