"""What claims read: the artifacts of a fixture, built (or found) by the harness.

Claims call these helpers and never train or encode anything themselves; every function returns
an artifact or arrays read from one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.data import Task
from harness.pipeline.build import Harness, Predictions
from harness.store import Artifact

if TYPE_CHECKING:  # the fixture module reads the claims' specs, which gather with these helpers
    from .fixture import Fixture


def _load(h: Harness, fx: Fixture, table: str) -> Task:
    """A fixture's task, with errors in its data (a label column missing, a split smaller than
    its ``sizes``) naming the fixture file and the table as well as the data file and row."""
    from harness.errors import ConfigError, DataError

    spec = fx.task if table == "task" else fx.other_task
    assert spec is not None, f"fixture {fx.name} has no [{table}]"
    try:
        return h.task(spec)
    except (ConfigError, DataError) as exc:
        raise type(exc)(f"{fx.path}: [{table}] {exc}") from None


def target_task(h: Harness, fx: Fixture) -> Task:
    return _load(h, fx, "task")


def other_task(h: Harness, fx: Fixture) -> Task:
    return _load(h, fx, "other_task")


def finetuned(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """The encoder fine-tuned on the target task (with its own head's predictions)."""
    return h.fine_tuned(fx.encoder, target_task(h, fx), fx.fine_tune, seed)


def frozen(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """A head trained on the untouched encoder's target-task embeddings."""
    return h.frozen(fx.encoder, target_task(h, fx), fx.frozen_head, seed, max_length=fx.fine_tune.max_length)


def cross(h: Harness, fx: Fixture, seed: int) -> Artifact:
    """A head on the target task's embeddings from the encoder fine-tuned on the other task."""
    return h.cross_task(fx.encoder, other_task(h, fx), target_task(h, fx), fx.fine_tune,
                        fx.frozen_head, seed)


def predictions(artifact: Artifact, split: str = "test") -> Predictions:
    return Predictions.of(artifact, split)


def last_layer_test_vectors(h: Harness, fx: Fixture, model) -> np.ndarray:
    """Last-layer first-token vectors of the target task's test texts under ``model`` (an
    EncoderSpec or a finetune artifact)."""
    return h.embedding_matrix(model, target_task(h, fx), "test", layer=-1, pooling="first",
                              max_length=fx.fine_tune.max_length)


def present_labels(task: Task, split: str) -> list[str]:
    """The names of the labels that occur in ``split``, in label order: DirectProbe's per-label
    results cover these only (a rare tag may be missing from a small test split)."""
    return [task.label_names[k] for k in np.unique(task[split].labels)]


def chance(h: Harness, fx: Fixture, split: str = "test") -> float:
    """What a constant classifier scores on the target task's ``split``: the majority share."""
    from harness.analysis.stats import majority_share

    return majority_share(target_task(h, fx)[split].labels)


def num_layers(model: Artifact) -> int:
    """Transformer layers of a fine-tuned encoder (from its saved configuration)."""
    import json

    return int(json.loads((model.file("encoder") / "config.json").read_text())["num_hidden_layers"])


def snapshots(model: Artifact, layer: int = -1) -> list[tuple[int, np.ndarray]]:
    """(step, embeddings) at each fine-tuning checkpoint (``fine_tune.snapshot_at``) for ``layer``
    (-1: the deepest layer recorded)."""
    out = []
    for step in model.meta["snapshot_steps"]:
        prefix = f"snapshots/step_{step:06d}_layer_"
        stored = sorted(int(n[len(prefix):-4]) for n in model.manifest["files"] if n.startswith(prefix))
        index = stored[-1] if layer == -1 else layer
        out.append((step, model.array(f"{prefix}{index}.npy")))
    return out


@dataclass(frozen=True)
class LayerSimilarity:
    """Per layer, the pre-trained encoder against a fine-tuned one on the same texts:
    ``values[measure]`` one similarity per layer in ``layers``; ``replicates[measure]`` (groups x
    layers) the same on each leave-a-group-out sample of the texts (sentences, for a token task:
    the sampling unit), from which a judge has the similarities' standard errors
    (``stats.jackknife``). The spatial similarity has none (a DirectProbe run per layer and per
    replicate: minutes to hours each at the papers' scales)."""

    layers: list[int]
    values: dict[str, list[float]]
    replicates: dict[str, np.ndarray]


def layer_similarity(h: Harness, fx: Fixture, tuned: Artifact, task: Task, split: str, pooling: str,
                     rows: np.ndarray | None = None, spatial: bool = False) -> LayerSimilarity:
    """:class:`LayerSimilarity` of ``split`` (``rows``: a subset): linear CKA, RSA and, with
    ``spatial``, Zhou and Srikumar's spatial similarity of the DirectProbe label-pair distances
    (all layers' DirectProbe runs handed over at once).

    Layers: 0 (the embeddings) to the last; with first-token pooling from 1, since the first
    token's embedding ([CLS] at position 0) is the same vector for every text; for a token task
    from 1 too (Zhou and Srikumar's layers 1 to 12: layer 0 holds context-free word embeddings, in
    which the same word under two tags is one point, so no space there is linearly separable). A
    similarity that is undefined on a layer (a representation without variance, a space that is
    not linearly separable) is NaN, which the judge reads as inconclusive."""
    from harness import directprobe
    from harness.analysis.similarity import (
        linear_cka,
        linear_cka_replicates,
        rsa,
        rsa_points,
        rsa_replicates,
    )
    from harness.analysis.stats import jackknife_keep
    from harness.errors import ConfigError
    from harness.pipeline.build import is_token_task

    def defined(measure, *args):
        try:
            return measure(*args)
        except ConfigError:
            return float("nan")

    layers = list(range(1 if pooling == "first" or is_token_task(task) else 0, num_layers(tuned) + 1))
    reps = [h.embeddings(model, task, split, layers=layers, pooling=pooling, max_length=fx.fine_tune.max_length)
            for model in (fx.encoder, tuned)]
    picked = rows if rows is not None else np.arange(len(task[split]))
    pairs = [(reps[0].array(f"layer_{k}")[picked], reps[1].array(f"layer_{k}")[picked]) for k in layers]
    sentences = sentences_of(task, split, picked)
    keep = jackknife_keep(len(picked), clusters=sentences)
    points = rsa_points(len(picked))  # RSA's texts; its replicates leave out groups of these
    keep_rsa = jackknife_keep(len(points), clusters=None if sentences is None else sentences[points])
    nan = np.full(len(keep), np.nan)
    values = {"cka": [float(defined(linear_cka, a, b)) for a, b in pairs],
              "rsa": [float(defined(rsa, a, b)) for a, b in pairs]}
    replicates = {
        "cka": np.column_stack([defined(linear_cka_replicates, a, b, keep) if v == v else nan
                                for (a, b), v in zip(pairs, values["cka"], strict=True)]),
        "rsa": np.column_stack([defined(rsa_replicates, a[points], b[points], keep_rsa) if v == v
                                else np.full(len(keep_rsa), np.nan)
                                for (a, b), v in zip(pairs, values["rsa"], strict=True)]),
    }
    if spatial:
        labels = task[split].labels[picked]
        probed = h.directprobe_many([(x, labels) for pair in pairs for x in pair])  # side by side
        values["spatial"] = [float(defined(directprobe.spatial_similarity, probed[2 * k].distances,
                                           probed[2 * k + 1].distances)) for k in range(len(pairs))]
    return LayerSimilarity(layers, values, replicates)


def probe_rows(task: Task, max_items: int) -> dict[str, np.ndarray]:
    """The items each split's probe uses: at most ``max_items``, a seeded sample (sorted), the same
    for every encoder compared."""
    rng = np.random.default_rng(0)
    return {s: np.sort(rng.choice(len(task[s]), min(len(task[s]), max_items), replace=False))
            for s in ("train", "validation", "test")}


def sentences_of(task: Task, split: str, rows: np.ndarray | None = None) -> np.ndarray | None:
    """The sentence of each item of ``split`` (``rows``: of those items): for a token task the
    sampling unit, since the words of one sentence are not independent; None for a text task (each
    text its own unit)."""
    items = getattr(task[split], "items", None)
    if items is None:
        return None
    items = np.asarray(items)
    return items[:, 0] if rows is None else items[rows, 0]


def distance_replicates(h: Harness, before: np.ndarray, after: np.ndarray, y: np.ndarray, probed_before,
                        probed_after, sentences: np.ndarray | None):
    """DirectProbe's label distances of two spaces of the same items on all of them and on each
    replicate of the jackknife over them (``sentences``: a token task's sampling unit), read from
    the store (``Harness.directprobe_replicates``), with each replicate's spreads: the
    :class:`claims.judges.DistanceReplicates` that the distance judges test. None where either
    space is not linearly separable (its distances are not judged)."""
    from claims.judges import DistanceReplicates
    from harness.analysis.geometry import spread
    from harness.analysis.stats import jackknife_keep

    if not (probed_before.clusters.linearly_separable and probed_after.clusters.linearly_separable):
        return None
    keeps = jackknife_keep(len(y), clusters=sentences)
    return DistanceReplicates(probed_before.distances.matrix, probed_after.distances.matrix,
                              h.directprobe_replicates(before, y, probed_before, sentences),
                              h.directprobe_replicates(after, y, probed_after, sentences),
                              np.array([(spread(before[k]), spread(after[k])) for k in keeps]))


def probe_sentences(task: Task, params: dict) -> np.ndarray | None:
    """The sentence of each test item the probe scores (:func:`sentences_of`)."""
    return sentences_of(task, "test", probe_rows(task, params["max_items"])["test"])


def probe_config(params: dict):
    """Zhou and Srikumar's probe as a claim's parameters set it (the grid, restarts, iterations)."""
    from harness.analysis.probes import ProbeConfig

    return ProbeConfig(hidden=tuple(params["hidden"]), alphas=tuple(float(a) for a in params["alphas"]),
                       max_iter=params["max_iter"], restarts=params["restarts"])


def zhou_probe(h: Harness, model, task: Task, params: dict, layer: int = -1):
    """Zhou and Srikumar's probe (harness/analysis/probes.py, the claim's grid) on ``model``'s ``layer``
    representation of the task's items (words, pairs, or texts' first token), on the rows of
    :func:`probe_rows` (cached in the store: ``Harness.zhou_probe``)."""
    return zhou_probes(h, [model], task, params, layer)[0]


def zhou_probes(h: Harness, models: list, task: Task, params: dict, layer: int = -1) -> list:
    """:func:`zhou_probe` for each of ``models``, the probes trained side by side
    (``Harness.zhou_probes``)."""
    config = probe_config(params)
    rows = probe_rows(task, params["max_items"])
    jobs = []
    for model in models:
        x = {s: h.embedding_matrix(model, task, s, layer=layer)[r] for s, r in rows.items()}
        y = {s: task[s].labels[r] for s, r in rows.items()}
        jobs.append((x["train"], y["train"], x["validation"], y["validation"], x["test"], y["test"], config, 0))
    return h.zhou_probes(jobs)
