"""Claim 4 (Zhou and Srikumar 2022, sections 4.2 and 4.3): fine-tuning pushes label clusters apart.

DirectProbe (harness/directprobe/engine.py) on the embeddings recorded at the fine-tuning checkpoints
(``snapshot_at`` in the fixture's [fine_tune]): where the first space is not linearly separable
the number of clusters strictly decreases, and where the spaces are separable each label's
minimum distance to the other labels grows, raw and divided by the space's spread (the centred RMS
distance to the mean: a space that merely scaled or shifted does not count; shown on the replicates
of a delete-a-group jackknife over the texts, or a token task's sentences), and the label
centroids move apart. With ``train_test_similarity = true`` (tasks with 3 or more
labels), the spatial similarity of the train and test representations falls after fine-tuning.
"""

from dataclasses import replace

import numpy as np

from claims import evidence, figures, judges
from harness import directprobe
from harness.analysis import geometry

CLAIM = "label_distances"


def test_label_distances(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(pipeline, fx)
    y = task[fx.fine_tune.snapshot_split].labels
    # every DirectProbe run of the claim first, so that the harness runs them side by side
    jobs, checkpoints = [], {}
    for seed in fx.seeds:
        art = evidence.finetuned(pipeline, fx, seed)
        checkpoints[seed] = evidence.snapshots(art, fx.fine_tune.snapshot_layers[-1])
        jobs += [(x, y) for _, x in checkpoints[seed]]
        if params["train_test_similarity"]:
            # the labels of both splits only (a rare label may be missing from one), so that the two
            # label-pair distance vectors compare the same pairs
            shared = np.intersect1d(task["train"].labels, task["test"].labels)
            keep = {s: np.isin(task[s].labels, shared) for s in ("train", "test")}
            jobs += [(pipeline.embedding_matrix(model, task, s, max_length=fx.fine_tune.max_length)[keep[s]],
                      task[s].labels[keep[s]]) for model in (fx.encoder, art) for s in ("train", "test")]
    probed = iter(pipeline.directprobe_many(jobs))
    sentences = evidence.sentences_of(task, fx.fine_tune.snapshot_split)  # the sampling unit of a token task
    trajectories, replicates, similarity = [], [], [] if params["train_test_similarity"] else None
    for seed in fx.seeds:
        traj, results = [], []
        for step, x in checkpoints[seed]:
            results.append(next(probed))
            traj.append(judges.Snapshot.of(step, x, y, results[-1].clusters.num_clusters,
                                           results[-1].distances.min_per_label()))
        trajectories.append(traj)
        replicates.append(evidence.distance_replicates(pipeline, checkpoints[seed][0][1], checkpoints[seed][-1][1], y,
                                                       results[0], results[-1], sentences)
                          if "distances" in params["parts"] else None)
        if similarity is not None:
            pretrained = [next(probed).distances for _ in ("train", "test")]
            tuned = [next(probed).distances for _ in ("train", "test")]
            similarity.append((directprobe.spatial_similarity(*pretrained), directprobe.spatial_similarity(*tuned)))
    names = evidence.present_labels(task, fx.fine_tune.snapshot_split)
    verdict = judges.label_distances(fx.name, fx.seeds, names, trajectories, similarity, params, replicates)
    scale = params["scale"]
    verdict = replace(verdict, figures=(figures.distance_trajectories(
        "Each label's minimum distance to the other labels over fine-tuning"
        + (", divided by the space's spread" if scale == "spread" else "") + " (Zhou and Srikumar, Fig. 2)",
        names,
        [(seed, [s.step for s in traj], [list(s.scaled(scale)) for s in traj])
         for seed, traj in zip(fx.seeds, trajectories, strict=True)]),
        figures.centroid_paths(f"Label centroids over fine-tuning, 2-D PCA (seed {fx.seeds[0]}; Zhou and Srikumar, "
                               "Fig. 3)", names,
                               [geometry.centroids(x, y) for _, x in checkpoints[fx.seeds[0]]])))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
