"""Claim 5, geometric part (Zhou and Srikumar 2022, Table 5): fine-tuning on another task moves
the target task's label clusters; an opposing task brings them closer.

DirectProbe (harness/directprobe.py) on the target task's texts (``split``, default train), last
layer, first token, under the pre-trained encoder and under the encoder fine-tuned on the other
task: each label's minimum distance to the other labels, before and after. Zhou and Srikumar:
fine-tuning on POS lowers every PS-fxn label's distance (mean -1.68); on PS-role, a related task,
raises them a little. Distances are divided by each space's mean vector norm (``scale``), so
that a space that merely grew does not count as clusters moving apart.
"""

from dataclasses import replace

import numpy as np

from claims import evidence, figures, judges

CLAIM = "cross_task_distances"


def test_cross_task_distances(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    task, split = evidence.target_task(harness, fx), params["split"]
    y, max_length = task[split].labels, fx.fine_tune.max_length
    x0 = harness.embedding_matrix(fx.encoder, task, split, max_length=max_length)
    xs = [harness.embedding_matrix(harness.fine_tuned(fx.encoder, evidence.other_task(harness, fx), fx.fine_tune,
                                                      seed), task, split, max_length=max_length)
          for seed in fx.seeds]
    probed = harness.directprobe_many([(x, y) for x in [x0, *xs]])  # side by side
    before = probed[0].distances.min_per_label()  # the pre-trained encoder does not depend on the seed
    befores = [before] * len(xs)
    afters = [p.distances.min_per_label() for p in probed[1:]]
    norms = [(float(np.linalg.norm(x0, axis=1).mean()), float(np.linalg.norm(x, axis=1).mean())) for x in xs]
    separable = [(probed[0].clusters.linearly_separable, p.clusters.linearly_separable) for p in probed[1:]]
    verdict = judges.cross_task_distances(fx.name, fx.seeds, task.label_names, befores, afters, params, norms,
                                          separable)
    scaled = params["scale"] == "mean_norm"
    b0, a0 = (befores[0] / norms[0][0], afters[0] / norms[0][1]) if scaled else (befores[0], afters[0])
    verdict = replace(verdict, figures=(figures.distance_bars(
        f"Target labels' minimum distance{' / mean vector norm' if scaled else ''} (seed {fx.seeds[0]})",
        task.label_names, [("pre-trained", b0), ("fine-tuned on the other task", a0)]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
