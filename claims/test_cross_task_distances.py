"""Claim 5, geometric part (Zhou and Srikumar 2022, Table 5): fine-tuning on another task moves
the target task's label clusters; an opposing task brings them closer.

DirectProbe (harness/directprobe/engine.py) on the target task's texts (``split``, default train), last
layer, first token, under the pre-trained encoder and under the encoder fine-tuned on the other
task: each label's minimum distance to the other labels, before and after, on all the items and
on each replicate of a delete-a-group jackknife over them (the sentences of a token task). Zhou and Srikumar:
fine-tuning on POS lowers every PS-fxn label's distance (mean -1.68); on PS-role, a related task,
raises them a little. Distances are judged raw and divided by each space's spread (``scale``; the
centred RMS distance to the mean), so that a space that merely grew or shifted does not count as
clusters moving.
"""

from dataclasses import replace

import numpy as np

from claims import evidence, figures, judges
from harness.analysis import geometry

CLAIM = "cross_task_distances"


def test_cross_task_distances(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task, split = evidence.target_task(pipeline, fx), params["split"]
    y, max_length = task[split].labels, fx.fine_tune.max_length
    x0 = pipeline.embedding_matrix(fx.encoder, task, split, max_length=max_length)
    xs = [pipeline.embedding_matrix(pipeline.fine_tuned(fx.encoder, evidence.other_task(pipeline, fx), fx.fine_tune,
                                                      seed), task, split, max_length=max_length)
          for seed in fx.seeds]
    own = [pipeline.embedding_matrix(evidence.finetuned(pipeline, fx, seed), task, split, max_length=max_length)
           for seed in fx.seeds[:1]]  # the target task's own fine-tuning, for Table 5's third column
    probed = pipeline.directprobe_many([(x, y) for x in [x0, *xs, *own]])  # side by side
    own_probed = probed[len(xs) + 1]
    probed = probed[:len(xs) + 1]
    probes = None
    if params["probe"]:
        models = [(evidence.finetuned(pipeline, fx, seed),
                   pipeline.fine_tuned(fx.encoder, evidence.other_task(pipeline, fx), fx.fine_tune, seed))
                  for seed in fx.seeds]  # (target-tuned, other-tuned) per seed, probed side by side
        results = evidence.zhou_probes(pipeline, [m for pair in models for m in pair], task, params)
        probes = [(results[2 * i].test_correct, results[2 * i + 1].test_correct) for i in range(len(fx.seeds))]
    before = probed[0].distances.min_per_label()  # the pre-trained encoder does not depend on the seed
    befores = [before] * len(xs)
    afters = [p.distances.min_per_label() for p in probed[1:]]
    norms = [(geometry.spread(x0), geometry.spread(x)) for x in xs]
    separable = [(probed[0].clusters.linearly_separable, p.clusters.linearly_separable) for p in probed[1:]]
    names = evidence.present_labels(task, split)
    sentences = evidence.sentences_of(task, split)  # the sampling unit of a token task
    replicates = [evidence.distance_replicates(pipeline, x0, x, y, probed[0], p, sentences)
                  for x, p in zip(xs, probed[1:], strict=True)]
    verdict = judges.cross_task_distances(fx.name, fx.seeds, names, befores, afters, params, norms,
                                          separable, probes,
                                          clusters=evidence.probe_sentences(task, params) if probes else None,
                                          replicates=replicates)
    scaled = params["scale"] == "spread"
    own_norm = geometry.spread(own[0])
    b0, a0 = (befores[0] / norms[0][0], afters[0] / norms[0][1]) if scaled else (befores[0], afters[0])
    t0 = own_probed.distances.min_per_label() / (own_norm if scaled else 1.0)
    other_name = evidence.other_task(pipeline, fx).name
    table = {name: {"pre-trained": round(float(b), 4), f"fine-tuned on {task.name}": round(float(t), 4),
                    f"fine-tuned on {other_name}": round(float(a), 4)}
             for name, b, t, a in zip(names, b0, t0, a0, strict=True)}
    unit = " / spread" if scaled else ""
    rows = [[name, *cells.values(), cells[f"fine-tuned on {other_name}"] - cells["pre-trained"]]
            for name, cells in table.items()]
    rows.append(["mean", *[float(np.mean([r[k] for r in rows])) for k in range(1, 5)]])
    tables = [figures.table(f"Zhou and Srikumar's Table 5 on {task.name}: each label's minimum distance{unit} "
                            f"(seed {fx.seeds[0]})", ["label", "pre-trained", f"fine-tuned on {task.name}",
                                                      f"fine-tuned on {other_name}", "change (other - pre-trained)"],
                            rows)]
    if probes is not None:
        tables.append(figures.table(f"Probe accuracy on {task.name}'s test items (seed {fx.seeds[0]})",
                                    ["encoder fine-tuned on", "accuracy"],
                                    [[task.name, float(np.mean(probes[0][0]))],
                                     [other_name, float(np.mean(probes[0][1]))]]))
    verdict = replace(verdict, details={**verdict.details,
                                        "linearly separable (pre-trained, target-tuned, other-tuned)": [
                                            probed[0].clusters.linearly_separable,
                                            own_probed.clusters.linearly_separable,
                                            probed[1].clusters.linearly_separable]},
                      figures=(figures.distance_bars(
                          f"Target labels' minimum distance{' / spread' if scaled else ''} (seed "
                          f"{fx.seeds[0]}; Zhou and Srikumar, Table 5)", names,
                          [("pre-trained", b0), (f"fine-tuned on {task.name}", t0),
                           (f"fine-tuned on {other_name} (the other task)", a0)]), *tables))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
