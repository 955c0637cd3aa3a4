"""Layer-wise change (Merchant et al. 2020; Zhou and Srikumar 2022, section 4.5): fine-tuning
changes the top layers most.

The target task's texts (``split``, default test) encoded at every layer by the pre-trained and
by the fine-tuned encoder (``pooling``, default mean over tokens); per layer, linear CKA and RSA
(cosine distances, Pearson) between the two, and with ``measure = "spatial"`` Zhou and Srikumar's
own measure: the spatial similarity (Pearson of the DirectProbe label-pair distance vectors; 3 or
more labels). The fixture's ``measure`` decides: the similarity falls with depth, and with
``min_similarity`` stays above it (Zhou and Srikumar: > 0.5) (harness/similarity.py,
harness/directprobe.py; the judge in claims/judges.py says exactly how).
"""

import json
from dataclasses import replace

import pytest

from claims import evidence, figures, judges
from harness import directprobe
from harness.similarity import linear_cka, rsa

CLAIM = "layer_change"


def test_layer_change(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    task, split = evidence.target_task(harness, fx), params["split"]
    spatial = params["measure"] == "spatial"
    if spatial and task.num_labels < 3:
        pytest.fail(f"fixture {fx.name}: layer_change measure 'spatial' needs 3 or more labels (a distance "
                    f"vector per label pair), the task has {task.num_labels}")
    labels = task[split].labels
    sims = {"cka": [], "rsa": []} | ({"spatial": []} if spatial else {})
    layers = None
    for seed in fx.seeds:
        tuned = evidence.finetuned(harness, fx, seed)
        n_layers = json.loads((tuned.file("encoder") / "config.json").read_text())["num_hidden_layers"]
        layers = list(range(n_layers + 1))
        reps = [harness.embeddings(model, task, split, layers=layers, pooling=params["pooling"],
                                   max_length=fx.fine_tune.max_length) for model in (fx.encoder, tuned)]
        pairs = [(reps[0].array(f"layer_{k}"), reps[1].array(f"layer_{k}")) for k in layers]
        sims["cka"].append([linear_cka(a, b) for a, b in pairs])
        sims["rsa"].append([rsa(a, b) for a, b in pairs])
        if spatial:
            probed = harness.directprobe_many([(x, labels) for pair in pairs for x in pair])  # side by side
            sims["spatial"].append([directprobe.spatial_similarity(probed[2 * k].distances, probed[2 * k + 1].distances)
                                    for k in range(len(pairs))])
    verdict = judges.layer_change(fx.name, fx.seeds, layers, sims, params)
    verdict = replace(verdict, figures=(figures.layer_similarity(
        f"Similarity per layer, pre-trained vs fine-tuned ({params['pooling']} pooling, seed {fx.seeds[0]})",
        layers, [("linear CKA", sims["cka"][0]), ("RSA (cosine, Pearson)", sims["rsa"][0])]
        + ([("DirectProbe spatial similarity", sims["spatial"][0])] if spatial else [])),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
