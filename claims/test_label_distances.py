"""Claim 4 (Zhou and Srikumar 2022, sections 4.2-4.4): fine-tuning pushes label clusters apart.

DirectProbe (harness/directprobe.py) on the embeddings recorded at the fine-tuning checkpoints
(``snapshot_at`` in the fixture's [fine_tune]): the number of clusters does not grow, and where the
space is linearly separable each label's minimum distance to the other labels grows. With
``train_test_similarity = true`` (tasks with 3 or more labels), the spatial similarity of the train
and test representations falls after fine-tuning.
"""

from dataclasses import replace

import pytest

from claims import evidence, figures, judges
from harness import directprobe

CLAIM = "label_distances"


def test_label_distances(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(harness, fx)
    if len(fx.fine_tune.snapshot_at) < 2:
        pytest.fail(f"fixture {fx.name}: claim label_distances needs fine_tune.snapshot_at with at "
                    "least two checkpoints (e.g. [0, 0.5, 1])")
    split = fx.fine_tune.snapshot_split
    y = task[split].labels
    layer = fx.fine_tune.snapshot_layers[-1]
    # every DirectProbe run of the claim first, so that the harness runs them side by side
    jobs, steps = [], {}
    for seed in fx.seeds:
        art = evidence.finetuned(harness, fx, seed)
        steps[seed] = art.meta["snapshot_steps"]
        for step in steps[seed]:
            prefix = f"snapshots/step_{step:06d}_layer_"
            stored = sorted(int(n[len(prefix):-4]) for n in art.manifest["files"] if n.startswith(prefix))
            index = stored[-1] if layer == -1 else layer  # -1: the deepest layer recorded
            jobs.append((art.array(f"{prefix}{index}.npy"), y))
        if params["train_test_similarity"]:
            jobs += [(harness.embedding_matrix(model, task, s, max_length=fx.fine_tune.max_length), task[s].labels)
                     for model in (fx.encoder, art) for s in ("train", "test")]
    probed = iter(harness.directprobe_many(jobs))
    trajectories, similarity = [], [] if params["train_test_similarity"] else None
    for seed in fx.seeds:
        traj = []
        for step in steps[seed]:
            result = next(probed)
            traj.append(judges.Snapshot(step, result.clusters.num_clusters,
                                        tuple(float(v) for v in result.distances.min_per_label())))
        trajectories.append(traj)
        if similarity is not None:
            pretrained = [next(probed).distances for _ in ("train", "test")]
            tuned = [next(probed).distances for _ in ("train", "test")]
            similarity.append((directprobe.spatial_similarity(*pretrained), directprobe.spatial_similarity(*tuned)))
    verdict = judges.label_distances(fx.name, fx.seeds, task.label_names, trajectories, similarity, params)
    verdict = replace(verdict, figures=(figures.distance_trajectories(
        "Each label's minimum distance to the other labels over fine-tuning (Zhou and Srikumar, Fig. 2)",
        task.label_names,
        [(seed, [s.step for s in traj], [s.min_distance for s in traj])
         for seed, traj in zip(fx.seeds, trajectories, strict=True)]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
