"""The cached pipeline: specs in, artifacts out.

:class:`Harness` is what claims call. Each method names a step, computes the step's artifact key
from everything that determines its output, and returns the artifact from the store, building it
(and the upstream artifacts it needs) only when it is missing:

=============  =================================================================  ==================
step           inputs in the key                                                  files
=============  =================================================================  ==================
finetune       encoder identity, task fingerprint, FineTuneConfig, seed           encoder/ (HF), head,
                                                                                  losses, predictions,
                                                                                  snapshots/
embeddings     model identity (pretrained or finetune key), task fingerprint,     layer_<i>.npy
               split, layers, pooling, max_length, dtype
probe          model identity, task fingerprint, layer, pooling, max_length,      head/, predictions
               HeadConfig, seed
directprobe    SHA-256 of the points (dtype, shape, bytes) and of the labels      assignment,
                                                                                  cluster_labels,
                                                                                  distances
=============  =================================================================  ==================

Predictions are ``labels_<split>.npy``, ``pred_<split>.npy`` and ``logits_<split>.npy`` for train,
validation and test; the manifest's ``meta.accuracy`` holds the accuracy of each split.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .. import data, directprobe, distributed
from ..analysis import stats
from ..data import tasks
from ..data.tasks import TaskSpec
from ..directprobe import pool as geometry_pool
from ..errors import ConfigError, TrainingDiverged
from ..models.encoders import (
    Encoder,
    EncoderSpec,
    encode,
    encoder_identity,
    load_encoder,
    resolve_layers,
)
from ..models.heads import HeadConfig, train_head
from ..runtime import Progress, resolve_device
from ..store import Artifact, ArtifactStore, Predictions, canonical_json
from ..training.protocols import FineTuneConfig, classifier_logits, fine_tune, key_fields

if TYPE_CHECKING:
    from ..analysis.probes import ProbeConfig, ProbeResult

# Code versions of the steps: bump one when its output changes for the same inputs.
VERSIONS = {"finetune": "2",  # 2: fused AdamW (other rounding than 1)
            "token_finetune": "3",  # a token task's finetune (3: micro-batches of similar lengths on a CPU)
            "embeddings": "1", "probe": "1", "map2d": "1", "sparse": "1", "relevance": "1",
            "directprobe": "2",  # bump when harness/directprobe/engine.py's results change (2: overlap witnesses)
            "token_embeddings": "1",
            "zhou_probe": "1",  # bump when harness/analysis/probes.py's results change
            "directprobe_replicates": "1"}
DIRECTPROBE_WARN_SECONDS = 600  # a DirectProbe run estimated longer than this where labels overlap: a warning
EMBEDDING_DTYPES = ("float32", "float16")
ModelSource = EncoderSpec | Artifact  # a pretrained encoder, or a finetune artifact


def _labels_digest(y: np.ndarray) -> str:
    """The labels' values, not only their grouping (a probe's test outcomes depend on which is which)."""
    import hashlib

    y = np.ascontiguousarray(np.asarray(y).astype(np.int64))
    return hashlib.sha256(memoryview(y).cast("B")).hexdigest()


def _duration(seconds: float) -> str:
    """A rough duration for a person: "40 minutes", "3.2 hours"."""
    return f"{seconds / 60:.0f} minutes" if seconds < 5400 else f"{seconds / 3600:.1f} hours"


class Harness:
    """Builds or finds artifacts in ``store``; runs models on ``device``."""

    def __init__(self, store: ArtifactStore, device: str = "auto", encode_batch_size: int | None = None,
                 compile: bool = False, max_examples: int | None = None):
        """``max_examples``: every split of every task cut to at most that many examples
        (stratified, seeded; a dry run of a paper-scale fixture before it spends GPU hours). The
        cut tasks have other content, hence other artifacts than the whole ones."""
        if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int)
                                         or max_examples < 2):
            raise ConfigError(f"max_examples must be an integer of at least 2, got {max_examples!r}")
        self.max_examples = max_examples
        self.store = store
        if device == "auto" and distributed.world_size() > 1 and torch.cuda.is_available():
            device = distributed.local_device()  # one process per GPU: this rank's GPU
        self.device = resolve_device(device)
        # Encoding batch size changes no result (each batch is padded to its own longest text):
        # 64 on a CPU, 256 on an accelerator (which backs off by halving on out-of-memory).
        self.encode_batch_size = encode_batch_size or (64 if self.device.type == "cpu" else 256)
        self.compile = compile
        self._tasks: dict[TaskSpec, data.Task] = {}
        self._identities: dict[EncoderSpec, str] = {}
        self.stage_times: dict[str, float] = {}
        # what each hub name resolved to in this run: "model <id>" / "data <id>/<config>" -> commit
        self.resolved: dict[str, str] = {}

    # ---- inputs ----------------------------------------------------------------------------

    def task(self, spec: TaskSpec | dict) -> data.Task:
        if isinstance(spec, dict):
            spec = TaskSpec.from_dict(spec)
        if spec not in self._tasks:
            task = spec.load()
            hub_source = re.match(r"hub:(?P<where>[^@;]+)@(?P<commit>[^;\s]+)", task.source)
            if hub_source:  # load_hub's "hub:<dataset>/<config>@<commit>", then what was done to it
                self.resolved[f"data {hub_source['where'].rstrip('/')}"] = hub_source["commit"]
            if self.max_examples is not None:
                task = tasks.resize(task, {name: min(self.max_examples, len(split))
                                          for name, split in task.splits.items()}, spec.split_seed)
            self._tasks[spec] = task
        return self._tasks[spec]

    def load_model(self, source: ModelSource) -> Encoder:
        """A fresh copy of the encoder: pretrained, or the encoder of a finetune artifact."""
        if isinstance(source, EncoderSpec):
            encoder = load_encoder(source, self.device)
            self._note_identity(source, encoder.identity)
            return encoder
        if source.kind != "finetune":
            raise ConfigError(f"a model source is an EncoderSpec or a finetune artifact, not {source.kind}")
        return load_encoder(EncoderSpec(str(source.file("encoder"))), self.device, identity=self.identity(source))

    def identity(self, source: ModelSource) -> str:
        if isinstance(source, Artifact):
            return f"finetune:{source.key}"
        if source not in self._identities:
            self._note_identity(source, encoder_identity(source))
        return self._identities[source]

    def _note_identity(self, source: EncoderSpec, identity: str) -> None:
        self._identities[source] = identity
        if identity.startswith("hub:") and "@" in identity:
            self.resolved[f"model {source.name}"] = identity.rsplit("@", 1)[1]

    # ---- steps -----------------------------------------------------------------------------

    def fine_tuned(
        self, encoder: EncoderSpec, task: data.Task, config: FineTuneConfig, seed: int
    ) -> Artifact:
        inputs = finetune_inputs(self.identity(encoder), task, config, seed)
        if is_token_task(task):
            return self._fine_tuned_tokens(encoder, task, config, seed, inputs)

        def build(folder: Path) -> dict[str, Any]:
            model = self.load_model(encoder)
            n_steps = config.epochs * -(-len(task["train"]) // config.batch_size)
            bar = Progress(n_steps, f"fine-tune {task.name}")
            with self._stage("fine-tune"):
                result = fine_tune(model, task, config, seed, progress=bar, compile=self.compile)
            bar.close()
            classifier = result.classifier
            _save_fine_tune(folder, result, model.tokenizer)
            with self._stage("predict"):
                accuracy = {}
                for split in task.splits:
                    logits = classifier_logits(
                        classifier, model.tokenizer, task[split].texts, config.max_length,
                        self.encode_batch_size,
                    )
                    accuracy[split] = _save_predictions(folder, split, task[split].labels, logits)
            return {
                "accuracy": accuracy,
                "total_steps": result.total_steps,
                "snapshot_steps": sorted(result.snapshots),
                "device": str(self.device),
                "compiled": self.compile,
                "label_names": list(task.label_names),
                "task_name": task.name,
            }

        return self.store.get_or_build("finetune", finetune_version(task), inputs, build,
                                       f"fine-tune {_name(encoder)} on {task.name}, seed {seed}")

    def _fine_tuned_tokens(self, encoder: EncoderSpec, task, config: FineTuneConfig, seed: int,
                           inputs: dict[str, Any]) -> Artifact:
        """:meth:`fine_tuned` for a token task (harness/training/tokens.py): the same files, with the
        predictions and snapshots of items (words or pairs) instead of texts."""
        from ..training.tokens import fine_tune_tokens, token_logits

        def build(folder: Path) -> dict[str, Any]:
            model = self.load_model(encoder)
            n_steps = config.epochs * -(-len(task["train"].sentences) // config.batch_size)
            bar = Progress(n_steps, f"fine-tune {task.name}")
            with self._stage("fine-tune"):
                result = fine_tune_tokens(model, task, config, seed, progress=bar)
            bar.close()
            classifier = result.classifier
            _save_fine_tune(folder, result, model.tokenizer)
            with self._stage("predict"):
                accuracy = {split: _save_predictions(folder, split, task[split].labels,
                                                     token_logits(classifier, model.tokenizer, task[split],
                                                                  task.kind, task.pooling))
                            for split in task.splits}
            return {"accuracy": accuracy, "total_steps": result.total_steps,
                    "snapshot_steps": sorted(result.snapshots), "device": str(self.device),
                    "label_names": list(task.label_names), "task_name": task.name, "kind": task.kind}

        return self.store.get_or_build("finetune", finetune_version(task), inputs, build,
                                       f"fine-tune {_name(encoder)} on the {task.kind}s of {task.name}, seed {seed}")

    def embeddings(
        self,
        source: ModelSource,
        task: data.Task,
        split: str,
        *,
        layers: Sequence[int] = (-1,),
        pooling: str = "first",
        max_length: int = 128,
        dtype: str = "float32",
    ) -> Artifact:
        """Pooled embeddings of one split: ``layer_<i>.npy`` per resolved layer index."""
        if dtype not in EMBEDDING_DTYPES:
            raise ConfigError(f"embedding dtype must be one of {list(EMBEDDING_DTYPES)}, got {dtype!r}")
        if is_token_task(task):  # items' vectors: the task says how words pool (sentence pooling does not apply)
            return self.token_embeddings(source, task, split, layers=layers, pooling=task.pooling, max_length=512)
        texts = task[split].texts
        inputs = {
            "model": self.identity(source),
            "task": task.fingerprint(),
            "split": split,
            "layers": list(layers),
            "pooling": pooling,
            "max_length": max_length,
            "dtype": dtype,
        }

        def build(folder: Path) -> dict[str, Any]:
            model = self.load_model(source)
            bar = Progress(len(texts), f"encode {task.name}/{split}")
            with self._stage("encode"):
                out = encode(
                    model.model, model.tokenizer, texts, layers=layers, pooling=pooling,
                    max_length=max_length, batch_size=self.encode_batch_size, progress=bar,
                )
            bar.close()
            for layer, x in out.items():
                np.save(folder / f"layer_{layer}.npy", x.astype(dtype), allow_pickle=False)
            np.save(folder / "labels.npy", task[split].labels, allow_pickle=False)
            return {"layers": sorted(out), "shape": [len(texts), model.hidden_size], "device": str(self.device)}

        return self.store.get_or_build("embeddings", VERSIONS["embeddings"], inputs, build,
                                       f"encode {len(texts):,} texts of {task.name}/{split} with {_name(source)}")

    def embedding_matrix(self, source: ModelSource, task: data.Task, split: str, layer: int = -1,
                         pooling: str = "first", max_length: int = 128) -> np.ndarray:
        art = self.embeddings(source, task, split, layers=(layer,), pooling=pooling, max_length=max_length)
        (index,) = art.meta["layers"]
        return art.array(f"layer_{index}").astype(np.float32)  # (a token task's items: words or pairs)

    def token_embeddings(self, source: ModelSource, task, split: str, *, layers: Sequence[int] = (-1,),
                         pooling: str = "mean", max_length: int = 512) -> Artifact:
        """Every item of a token task's ``split`` (``harness.data.tokens.TokenTask``): a word's vector
        (its sub-words averaged, or the first) or a pair's (head then dependent, concatenated), at
        each of ``layers``: ``layer_<i>.npy`` and ``labels.npy``."""
        from ..models.words import encode_words, item_vectors

        inputs = {"model": self.identity(source), "task": task.fingerprint(), "split": split,
                  "layers": list(layers), "pooling": pooling, "max_length": max_length}

        def build(folder: Path) -> dict[str, Any]:
            model = self.load_model(source)
            with self._stage("encode"):
                words = encode_words(model.model, model.tokenizer, task[split].sentences, layers=layers,
                                     pooling=pooling, max_length=max_length)
            for layer, vectors in words.items():
                np.save(folder / f"layer_{layer}.npy", item_vectors(vectors, task[split], task.kind),
                        allow_pickle=False)
            np.save(folder / "labels.npy", task[split].labels, allow_pickle=False)
            return {"layers": sorted(words), "kind": task.kind, "items": len(task[split])}

        return self.store.get_or_build("token_embeddings", VERSIONS["token_embeddings"], inputs, build,
                                       f"encode the {len(task[split]):,} {task.kind}s of {task.name}/{split} "
                                       f"with {_name(source)}")

    def probe(
        self,
        source: ModelSource,
        task: data.Task,
        head: HeadConfig,
        seed: int,
        *,
        layer: int = -1,
        pooling: str = "first",
        max_length: int = 128,
    ) -> Artifact:
        """A head trained on ``source``'s frozen embeddings of the task's train split, with its
        predictions on every split (the frozen and cross-task protocols)."""
        inputs = probe_inputs(self.identity(source), task, head, seed, layer, pooling, max_length)

        def build(folder: Path) -> dict[str, Any]:
            features = {
                split: self.embedding_matrix(source, task, split, layer, pooling, max_length)
                for split in task.splits
            }
            bar = Progress(head.epochs, f"train {head.kind} head on {task.name}")
            with self._stage("probe"):
                fitted = train_head(features["train"], task["train"].labels, task.num_labels, head, seed,
                                    progress=bar, device=self.device)
            bar.close()
            fitted.save(folder / "head")
            accuracy = {
                split: _save_predictions(folder, split, task[split].labels, fitted.logits(x))
                for split, x in features.items()
            }
            return {"accuracy": accuracy, "label_names": list(task.label_names), "task_name": task.name}

        return self.store.get_or_build("probe", VERSIONS["probe"], inputs, build,
                                       f"{head.kind} head on {_name(source)} for {task.name}, seed {seed}")

    def map2d(self, source: ModelSource, task: data.Task, split: str, *, seed: int = 0,
              layer: int = -1, pooling: str = "first", max_length: int = 128) -> Artifact:
        """A t-SNE map of one split's embeddings (``coords.npy``, ``labels.npy``), for the report."""
        from ..analysis.maps import available_method, tsne_2d

        method = available_method(len(task[split]))
        inputs = {"model": self.identity(source), "task": task.fingerprint(), "split": split,
                  "layer": layer, "pooling": pooling, "max_length": max_length, "seed": seed,
                  "method": method}

        def build(folder: Path) -> dict[str, Any]:
            x = self.embedding_matrix(source, task, split, layer, pooling, max_length)
            with self._stage("map"):
                m = tsne_2d(x, seed=seed, method=method)
            np.save(folder / "coords.npy", m.coords, allow_pickle=False)
            np.save(folder / "labels.npy", np.asarray(task[split].labels, np.int64), allow_pickle=False)
            return {"method": m.method, "perplexities": list(m.perplexities), "n": len(x),
                    "label_names": list(task.label_names), "split": split}

        return self.store.get_or_build("map2d", VERSIONS["map2d"], inputs, build,
                                       f"2-D map of {task.name}/{split} under {_name(source)}")

    def zhou_probe(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                   x_test: np.ndarray, y_test: np.ndarray, config: ProbeConfig, seed: int = 0) -> ProbeResult:
        """Zhou and Srikumar's probe (:func:`harness.analysis.probes.zhou_probe`) on these splits, cached in
        the store by the content of the vectors and labels, the grid and the seed: a warm re-run
        of a claim reads it instead of training the grid again (the probes were most of a warm
        run's time)."""
        return self.zhou_probes([(x_train, y_train, x_val, y_val, x_test, y_test, config, seed)])[0]

    def zhou_probes(self, jobs: Sequence[tuple]) -> list[ProbeResult]:
        """:meth:`zhou_probe` for each job ``(x_train, y_train, x_val, y_val, x_test, y_test,
        config, seed)``; those not in the store are trained side by side in worker processes, one
        per CPU of this process's share (``runtime.cpu_share``), each with one BLAS thread. A probe
        is a sequence of small matrix products that one core runs as fast as two (measured on 2
        cores: 1.24 s and 1.28 s, the same predictions), so the pool is what uses the other cores:
        the no-forgetting claim's 12 probes took 30 s one after the other."""
        from ..analysis.probes import ProbeResult

        keyed = []
        for x_train, y_train, x_val, y_val, x_test, y_test, config, seed in jobs:
            splits = {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}
            inputs = {name: geometry_pool.directprobe_inputs(x, y) | {"label_values": _labels_digest(y)}
                      for name, (x, y) in splits.items()}  # the vectors' and labels' content
            keyed.append(inputs | {"config": dataclasses.asdict(config), "seed": seed})
        missing = [i for i, inputs in enumerate(keyed)
                   if self.store.find("zhou_probe", VERSIONS["zhou_probe"], inputs) is None]
        computed: dict[int, ProbeResult] = {}
        if len(missing) > 1 and not distributed.active():
            first: dict[str, int] = {}  # a job given twice is trained once
            for i in missing:
                first.setdefault(canonical_json(keyed[i]), i)
            with self._stage("probe"):
                unique = _probe_pool({i: jobs[i] for i in first.values()})
            computed = {i: unique[first[canonical_json(keyed[i])]] for i in missing}
        out = []
        for i, (job, inputs) in enumerate(zip(jobs, keyed, strict=True)):
            x_train, x_val, x_test = job[0], job[2], job[4]

            def build(folder: Path, i=i, job=job) -> dict[str, Any]:
                from ..analysis.probes import zhou_probe as fit

                if i in computed:
                    result = computed[i]
                else:
                    with self._stage("probe"):
                        result = fit(*job[:6], job[6], seed=job[7])
                np.save(folder / "test_correct.npy", np.asarray(result.test_correct, bool), allow_pickle=False)
                return {"hidden": list(result.hidden), "alpha": result.alpha,
                        "validation_accuracy": result.validation_accuracy, "test_accuracy": list(result.test_accuracy)}

            art = self.store.get_or_build("zhou_probe", VERSIONS["zhou_probe"], inputs, build,
                                          f"probe grid on {len(x_train):,} / {len(x_val):,} / {len(x_test):,} items")
            m = art.meta
            out.append(ProbeResult(tuple(m["hidden"]), float(m["alpha"]), float(m["validation_accuracy"]),
                                   tuple(float(a) for a in m["test_accuracy"]),
                                   tuple(bool(v) for v in art.array("test_correct"))))
        return out

    def directprobe(self, x: np.ndarray, y: np.ndarray) -> directprobe.Probed:
        """DirectProbe's clusters and label distances of the points ``x`` under labels ``y``,
        cached in the store by content (see :meth:`directprobe_many`)."""
        return self.directprobe_many([(x, y)])[0]

    def directprobe_many(self, jobs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[directprobe.Probed]:
        """DirectProbe on each ``(x, y)``: results from the store where it holds them; the others
        computed side by side in worker processes, one per CPU (``$CLAIMS_GEOMETRY_WORKERS``
        overrides it), since the engine is sequential and CPU-bound (HiGHS, Wolfe's algorithm:
        a GPU does not help it, the GPU machine's cores do), then stored. The key is the points'
        and labels' content, so the same embeddings are never probed twice."""
        keys = [geometry_pool.directprobe_inputs(x, y) for x, y in jobs]
        for x, _ in jobs:
            estimate = directprobe.overlap_seconds(len(x))
            if estimate > DIRECTPROBE_WARN_SECONDS:
                warnings.warn(f"DirectProbe on {len(x):,} points: where labels overlap this takes about "
                              f"{_duration(estimate)} on one core of a 2-core machine (measured: "
                              + ", ".join(f"{n:,} points {t:.0f} s" for n, t in directprobe.OVERLAP_TIMINGS)
                              + "; docs/benchmarks.md, DirectProbe), seconds where they do not; a smaller "
                              "split (the claim's `split`) keeps it in minutes", RuntimeWarning, stacklevel=2)
        found = {i: self.store.find("directprobe", VERSIONS["directprobe"], k) for i, k in enumerate(keys)}
        missing = distributed.broadcast([i for i, art in found.items() if art is None])  # rank 0's view
        computed: dict[int, directprobe.Probed] = {}
        if missing:
            first = {}  # a job given twice runs once
            for i in missing:
                first.setdefault((keys[i]["points"], keys[i]["labels"]), i)
            with self._stage("directprobe"):
                unique = self._run_directprobe({i: jobs[i] for i in first.values()})
            computed = {i: unique[first[keys[i]["points"], keys[i]["labels"]]] for i in missing}
        out = []
        for i, ((x, y), inputs) in enumerate(zip(jobs, keys, strict=True)):

            def build(folder: Path, i=i, x=x, y=y) -> dict[str, Any]:
                result = computed.get(i) or directprobe.probe(x, y)  # (another rank may need it)
                np.save(folder / "assignment.npy", result.clusters.assignment, allow_pickle=False)
                np.save(folder / "cluster_labels.npy", result.clusters.cluster_labels, allow_pickle=False)
                np.save(folder / "distances.npy", result.distances.matrix, allow_pickle=False)
                return {"num_labels": result.clusters.num_labels, "num_clusters": result.clusters.num_clusters,
                        "counters": dataclasses.asdict(result.clusters.counters), "seconds": result.seconds}

            art = self.store.get_or_build("directprobe", VERSIONS["directprobe"], inputs, build,
                                          f"DirectProbe on {len(x):,} points")
            counters = directprobe.Counters(**art.meta["counters"])
            clusters = directprobe.Clusters(art.array("assignment"), art.array("cluster_labels"),
                                            int(art.meta["num_labels"]), counters)
            out.append(directprobe.Probed(clusters, directprobe.LabelDistances(art.array("distances"), counters),
                                          float(art.meta["seconds"])))
        return out

    def directprobe_replicates(self, x: np.ndarray, y: np.ndarray, probed: directprobe.Probed,
                               clusters: np.ndarray | None = None) -> np.ndarray:
        """DirectProbe's label-distance matrix on each replicate of the delete-a-group jackknife
        over these points (:func:`harness.analysis.stats.jackknife_keep`; ``clusters``: the sentence of each
        word, the sampling unit of a token task), with ``probed``'s clusters restricted to the rows
        kept (:func:`harness.directprobe.replicate_label_distances`): shape (replicates, L, L).
        Cached in the store by the points', labels' and sampling units' content."""
        keeps = stats.jackknife_keep(len(x), clusters=clusters)
        inputs = geometry_pool.directprobe_inputs(x, y) | {
            "groups": stats.JACKKNIFE_GROUPS, "seed": 0,
            "units": _labels_digest(np.unique(clusters, return_inverse=True)[1] if clusters is not None
                                    else np.arange(len(x)))}

        def build(folder: Path) -> dict[str, Any]:
            with self._stage("directprobe"):
                reps = directprobe.replicate_label_distances(x, y, probed.clusters, keeps)
            np.save(folder / "replicates.npy", reps, allow_pickle=False)
            return {"replicates": len(keeps)}

        art = self.store.get_or_build("directprobe_replicates", VERSIONS["directprobe_replicates"], inputs, build,
                                      f"DirectProbe distances on {len(keeps)} jackknife replicates of {len(x):,} points")
        return art.array("replicates")

    def _run_directprobe(self, jobs: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[int, directprobe.Probed]:
        """Under torchrun, every rank probes its share of the jobs and the ranks swap results
        (a failure on one rank fails the step on all, as a build does); otherwise this process
        probes them all."""
        if not distributed.active():
            return geometry_pool.probe_locally(jobs)
        ids = sorted(jobs)
        error: Exception | None = None
        mine: dict[int, directprobe.Probed] = {}
        try:
            mine = geometry_pool.probe_locally({i: jobs[i] for i in ids[distributed.rank():: distributed.world_size()]})
        except Exception as exc:
            error = exc
        distributed.end_step(f"DirectProbe ({len(jobs)} runs)", error)
        return distributed.all_gather_dict(mine)

    def classifier(self, model: ModelSource, head: Artifact | None = None):
        """A differentiable classifier and its tokenizer: a finetune artifact with its own head
        (``head=None``), or ``model`` (the encoder a probe was trained on) with a probe's head."""
        from safetensors.torch import load_file

        from ..models.heads import HeadConfig, make_head
        from ..training.protocols import SequenceClassifier

        encoder = self.load_model(model)
        dim = encoder.hidden_size
        if head is None:
            if not isinstance(model, Artifact) or model.kind != "finetune":
                raise ConfigError("a classifier without a probe head must be a finetune artifact")
            classifier = SequenceClassifier(encoder.model, len(model.meta["label_names"]))
            classifier.head.load_state_dict(load_file(model.file("head.safetensors")))
        else:
            inputs = head.manifest["inputs"]
            if head.kind != "probe" or inputs["model"] != self.identity(model):
                raise ConfigError(f"{head.kind}/{head.key[:12]} is not a probe trained on {self.identity(model)}")
            if (inputs["layer"], inputs["pooling"]) != (-1, "first"):
                raise ConfigError("attribution needs a head on the last layer's first token, not "
                                  f"layer {inputs['layer']} with {inputs['pooling']} pooling")
            config = HeadConfig(**inputs["head"])
            if config.kind == "logreg":
                raise ConfigError("attribution needs a torch head (roberta or mlp), not logreg")
            module = make_head(config, dim, len(head.meta["label_names"]))
            module.load_state_dict(load_file(head.file("head") / "head.safetensors"))
            classifier = SequenceClassifier(encoder.model, len(head.meta["label_names"]), head=module)
        return classifier.to(self.device).eval(), encoder.tokenizer

    def relevance(self, model: ModelSource, head: Artifact | None, task: data.Task, split: str, *,
                  method: str = "ig", n_steps: int = 16, max_texts: int | None = None,
                  max_length: int = 128) -> Artifact:
        """Word relevance of a classifier (:meth:`classifier`) on the first ``max_texts`` texts of
        a split: ``words.json`` maps each word to ``[count, mean relevance]`` (harness/analysis/attribution.py)."""
        from ..analysis.attribution import METHODS, word_relevance, word_table

        if method not in METHODS:
            raise ConfigError(f"unknown attribution method {method!r}; allowed: {list(METHODS)}")
        texts = task[split].texts[:max_texts]
        inputs = {"model": self.identity(model), "head": head.key if head is not None else None,
                  "task": task.fingerprint(), "split": split, "n_texts": len(texts), "method": method,
                  "n_steps": n_steps if method == "ig" else None, "max_length": max_length}

        def build(folder: Path) -> dict[str, Any]:
            classifier, tokenizer = self.classifier(model, head)
            with self._stage("attribution"):
                table = word_table(word_relevance(classifier, tokenizer, texts, max_length,
                                                  method=method, n_steps=n_steps))
            (folder / "words.json").write_text(json.dumps({w: [n, m] for w, (n, m) in table.items()}))
            return {"n_texts": len(texts), "n_words": len(table)}

        return self.store.get_or_build("relevance", VERSIONS["relevance"], inputs, build,
                                       f"token relevance on {task.name}/{split} under {_name(model)}")

    def sparse(self, task: data.Task, features: str, *, folds: int = 10, seed: int = 0,
               C: float = 1.0) -> Artifact:
        """A sparse baseline (Hart): ``features`` (tfidf | counts | hashing) and logistic
        regression, scored by stratified ``folds``-fold CV on the train split (per-fold scores in
        ``cv_accuracy.npy`` and ``cv_f1_macro.npy``), then fitted on the whole train split, with
        its predictions on every split."""
        import sklearn

        from ..analysis import sparse

        inputs = {"task": task.fingerprint(), "features": features, "folds": folds, "seed": seed, "C": C,
                  "sklearn": sklearn.__version__}
        if features not in sparse.FEATURES:
            raise ConfigError(f"unknown sparse features {features!r}; allowed: {list(sparse.FEATURES)}")

        def build(folder: Path) -> dict[str, Any]:
            train = task["train"]
            with self._stage("sparse"):
                cv = sparse.cross_validate_sparse(train.texts, train.labels, features, folds=folds, seed=seed,
                                                  C=C, label_names=task.label_names)
                model = sparse.fit_sparse(train.texts, train.labels, features, seed=seed, C=C)
                accuracy = {
                    split: _save_predictions(folder, split, task[split].labels,
                                             sparse.scores(model, task[split].texts, task.num_labels))
                    for split in task.splits
                }
            np.save(folder / "cv_accuracy.npy", cv.accuracy, allow_pickle=False)
            np.save(folder / "cv_f1_macro.npy", cv.f1_macro, allow_pickle=False)
            return {"accuracy": accuracy, "cv_accuracy": float(cv.accuracy.mean()),
                    "cv_f1_macro": float(cv.f1_macro.mean()), "label_names": list(task.label_names),
                    "task_name": task.name}

        return self.store.get_or_build("sparse", VERSIONS["sparse"], inputs, build,
                                       f"{features} + logistic regression on {task.name}, {folds}-fold CV, seed {seed}")

    # ---- protocols as compositions ---------------------------------------------------------

    def frozen(self, encoder: EncoderSpec, task: data.Task, head: HeadConfig, seed: int,
               max_length: int = 128) -> Artifact:
        """Bogaert's frozen protocol: a head on the untouched encoder's last-layer first token."""
        return self.probe(encoder, task, head, seed, max_length=max_length)

    def cross_task(self, encoder: EncoderSpec, source_task: data.Task, target_task: data.Task,
                   config: FineTuneConfig, head: HeadConfig, seed: int) -> Artifact:
        """Fine-tune on ``source_task``, then a frozen head on ``target_task`` from that encoder."""
        tuned = self.fine_tuned(encoder, source_task, config, seed)
        return self.probe(tuned, target_task, head, seed, max_length=config.max_length)

    # ----------------------------------------------------------------------------------------

    class _StageTimer:
        def __init__(self, times: dict[str, float], name: str):
            self.times, self.name = times, name

        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            self.times[self.name] = self.times.get(self.name, 0.0) + time.perf_counter() - self.start

    def _stage(self, name: str) -> _StageTimer:
        return Harness._StageTimer(self.stage_times, name)


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _probe_pool(jobs: dict[int, tuple]) -> dict[int, ProbeResult]:
    """Zhou's probe on each job, in worker processes (spawned: no forked torch threads), each
    with one BLAS thread; in this process where the share of CPUs is one."""
    from ..analysis.probes import zhou_probe
    from ..runtime import cpu_share

    workers = min(cpu_share(), len(jobs))
    if workers <= 1:
        return {i: zhou_probe(*job[:6], job[6], seed=job[7]) for i, job in jobs.items()}
    from ..runtime import in_processes

    return in_processes({i: (_zhou_probe_job, (job,)) for i, job in jobs.items()}, workers,
                        initializer=_one_blas_thread,
                        died=f"the usual cause is memory: the {workers} probe workers (one per CPU of this "
                             "run's share) each hold a split's vectors; run with more memory or fewer CPUs")


def _zhou_probe_job(job: tuple) -> ProbeResult:
    from ..analysis.probes import zhou_probe

    return zhou_probe(*job[:6], job[6], seed=job[7])


def is_token_task(task) -> bool:
    """A token-level task (harness/data/tokens.py: words or word pairs), not a text classification one."""
    return not isinstance(task, data.Task)


def finetune_version(task) -> str:
    """The code version of a fine-tuning artifact: a token task's has its own, since its training
    steps changed rounding (harness/training/tokens.py's micro-batches) where a text task's did not."""
    return VERSIONS["token_finetune" if is_token_task(task) else "finetune"]


def finetune_inputs(identity: str, task: data.Task, config: FineTuneConfig, seed: int) -> dict[str, Any]:
    """What a fine-tuned model's artifact key is made of (also for a plan, which builds nothing)."""
    return {"encoder": identity, "task": task.fingerprint(), "config": key_fields(config), "seed": seed}


def probe_inputs(identity: str, task: data.Task, head: HeadConfig, seed: int, layer: int = -1,
                 pooling: str = "first", max_length: int = 128) -> dict[str, Any]:
    """What a probe's (frozen or cross-task head's) artifact key is made of."""
    return {"model": identity, "task": task.fingerprint(), "layer": layer, "pooling": pooling,
            "max_length": max_length, "head": dataclasses.asdict(head), "seed": seed}


def _name(source: ModelSource) -> str:
    """An encoder or a fine-tuned artifact, in a few words (for log lines)."""
    return source.name if isinstance(source, EncoderSpec) else f"{source.kind}/{source.key[:12]}"


def _save_fine_tune(folder: Path, result, tokenizer) -> None:
    """A fine-tuning run's encoder (Hugging Face format), head, losses and snapshots, text or
    token task alike."""
    from safetensors.torch import save_file

    classifier = result.classifier
    classifier.encoder.save_pretrained(folder / "encoder", safe_serialization=True)
    tokenizer.save_pretrained(folder / "encoder")
    save_file({k: v.detach().cpu().contiguous() for k, v in classifier.head.state_dict().items()},
              folder / "head.safetensors")
    np.save(folder / "losses.npy", np.asarray(result.losses, dtype=np.float32))
    for step, layers in result.snapshots.items():
        for layer, x in layers.items():
            (folder / "snapshots").mkdir(exist_ok=True)
            np.save(folder / "snapshots" / f"step_{step:06d}_layer_{layer}.npy", x)


def _save_predictions(folder: Path, split: str, labels: np.ndarray, logits: np.ndarray) -> float:
    logits = np.asarray(logits)
    if not np.isfinite(logits).all():  # argmax of NaN is class 0: a "constant classifier" judged as real
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        raise TrainingDiverged(f"the model's logits on the {split} split are not finite for {bad} of "
                               f"{len(logits)} texts: its training diverged (lower the learning rate). "
                               "Nothing was stored.")
    pred = logits.argmax(axis=1)
    np.save(folder / f"labels_{split}.npy", np.asarray(labels, dtype=np.int64), allow_pickle=False)
    np.save(folder / f"pred_{split}.npy", pred.astype(np.int64), allow_pickle=False)
    np.save(folder / f"logits_{split}.npy", np.asarray(logits, dtype=np.float32), allow_pickle=False)
    return float((pred == labels).mean())


__all__ = ["Harness", "TaskSpec", "Predictions", "resolve_layers"]
