"""Layer-wise change (Merchant et al. 2020; Zhou and Srikumar 2022, section 4.5): fine-tuning
changes the top layers most.

The target task's texts (``split``, default test) encoded at every layer by the pre-trained and
by the fine-tuned encoder (``pooling``, default mean over tokens); per layer, linear CKA and RSA
(cosine distances, Pearson) between the two, and with ``measure = "spatial"`` Zhou and Srikumar's
own measure: the spatial similarity (Pearson of the DirectProbe label-pair distance vectors; 3 or
more labels). The fixture's ``measure`` decides: the similarity falls with depth, and with
``min_similarity`` stays above it (Zhou and Srikumar: > 0.5) (claims/evidence.py gathers the
similarities and their jackknife replicates over the texts, claims/judges.py says exactly how
they are judged).
"""

from dataclasses import replace

from claims import evidence, figures, judges
from harness.errors import ConfigError

CLAIM = "layer_change"


def test_layer_change(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    spatial = params["measure"] == "spatial"
    if spatial and task.num_labels < 3:
        raise ConfigError(f"{fx.path}: [claims.layer_change] measure = 'spatial': needs a task with 3 or more "
                          f"labels (a distance vector per label pair); {task.name} has {task.num_labels}")
    sims: dict[str, list[list[float]]] = {}
    replicates: dict[str, list] = {}
    layers = None
    for seed in fx.seeds:
        tuned = evidence.finetuned(pipeline, fx, seed)
        measured = evidence.layer_similarity(pipeline, fx, tuned, task, split, params["pooling"], spatial=spatial)
        layers = measured.layers
        for name, values in measured.values.items():
            sims.setdefault(name, []).append(values)
        for name, reps in measured.replicates.items():
            replicates.setdefault(name, []).append(reps)
    verdict = judges.layer_change(fx.name, fx.seeds, layers, sims, params, replicates)
    verdict = replace(verdict, figures=(figures.layer_similarity(
        f"Similarity per layer, pre-trained vs fine-tuned ({params['pooling']} pooling, seed {fx.seeds[0]})",
        layers, [("linear CKA", sims["cka"][0]), ("RSA (cosine, Pearson)", sims["rsa"][0])]
        + ([("DirectProbe spatial similarity", sims["spatial"][0])] if spatial else [])),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
