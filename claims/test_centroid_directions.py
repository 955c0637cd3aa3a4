"""Zhou and Srikumar (2022, section 4.5, Fig. 5): lower layers' label centroids move little and in
a few shared directions; higher layers' move more and in more directions.

Per layer (0, the embeddings, to the last; from 1 for a text task's first token, which is the same
vector for every text at layer 0), each label's centroid on the ``split`` items under the
fine-tuned minus the pre-trained encoder. The judge (claims/judges.py) turns the movements into
two scale-free numbers per layer: their mean length over the pre-trained layer's spread (the
centred RMS distance to the mean, free of the layer's common offset), and the
number of directions they span (participation ratio), with their jackknife replicates over the
items (sentences, for a token task). Fig. 5's 2-D PCA is drawn beside.
"""

from dataclasses import replace

import numpy as np

from claims import evidence, figures, judges
from harness.analysis import geometry
from harness.pipeline.build import is_token_task

CLAIM = "centroid_directions"


def test_centroid_directions(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    y = task[split].labels
    present = np.unique(y)
    tuned = [evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds]
    layers = list(range(0 if is_token_task(task) else 1, evidence.num_layers(tuned[0]) + 1))
    max_length = fx.fine_tune.max_length

    def reps(model):
        art = pipeline.embeddings(model, task, split, layers=layers, pooling="first", max_length=max_length)
        return [art.array(f"layer_{k}") for k in layers]

    before = reps(fx.encoder)
    sentences = evidence.sentences_of(task, split)  # the sampling unit of a token task
    moved = [geometry.centroid_movement(before, reps(art), y, sentences) for art in tuned]
    movements, norms = [m.movements for m in moved], moved[0].spreads
    verdict = judges.centroid_directions(fx.name, fx.seeds, layers, movements, norms, params,
                                         [(m.size_replicates, m.span_replicates) for m in moved])
    if len(moved[0].labels) < len(present):
        verdict = replace(verdict, details={**verdict.details, "labels left out": (
            f"{len(present) - len(moved[0].labels)} label(s) whose items all fall in one of the jackknife's groups "
            "(too rare to measure how they moved)")})
    size, span = judges.centroid_measures(movements[0], norms)
    verdict = replace(verdict, figures=(
        figures.layer_similarity(f"Label centroids per layer (seed {fx.seeds[0]}): mean shift over the layer's "
                                 "spread, and the directions the shifts span over the number of labels", layers,
                                 [("movement", size), ("directions / labels", [v / len(present) for v in span])]),
        figures.centroid_pca(f"Label centroid movements per layer, 2-D PCA (seed {fx.seeds[0]}; "
                             "Zhou and Srikumar, Fig. 5)", layers, movements[0])))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
