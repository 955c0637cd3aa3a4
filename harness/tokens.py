"""Token-level tasks (Zhou and Srikumar 2022; Merchant et al. 2020): examples that are words in
context, or (head, dependent) word pairs, each with a label.

- **POS** and **DEP** from any CoNLL-U treebank (:func:`load_conllu`, read with the ``conllu``
  package): the UPOS tag of each word, or the relation of each (head, dependent) pair, with base
  relations (``nmod``) or full subtypes (``nmod:poss``).
- **PS-role** and **PS-fxn** from STREUSLE's official JSON (:func:`load_streusle`): the scene role
  (``ss``) or function (``ss2``) supersense of each single-token preposition or possessive, as in
  Liu et al. (2019) and the paper (STREUSLE 4.7's dev split: 433 of them, its test split: 457).

A corpus in one file (the PUD treebank) is split by sentence, seeded, so that no sentence has
words in two splits. Bad input names the file, the sentence and the token. Needs the optional
``conllu`` package for CoNLL-U (``pip install 'finetune-claims[tokens]'``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError, DataError

KINDS = ("word", "pair")
# STREUSLE's lexical categories that carry preposition supersenses: prepositions, infinitival "to",
# possessive pronouns and the possessive clitic
PREPOSITION_LEXCATS = ("P", "INF.P", "PRON.POSS", "POSS")


@dataclass(frozen=True)
class TokenSplit:
    """``items[i] = (sentence, word, head)``: 0-based indices into ``sentences``; ``head`` is the
    pair's head word, or -1 for a word task. ``labels[i]`` indexes the task's label names."""

    sentences: tuple[tuple[str, ...], ...]
    items: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray) -> TokenSplit:
        """The items ``rows`` (in that order), with only the sentences they come from."""
        items, labels = self.items[rows], self.labels[rows]
        kept = np.unique(items[:, 0])
        renumber = np.full(len(self.sentences), -1, dtype=np.int64)
        renumber[kept] = np.arange(len(kept))
        items = items.copy()
        items[:, 0] = renumber[items[:, 0]]
        return TokenSplit(tuple(self.sentences[i] for i in kept), items, labels)

    def sentence_subset(self, sentences: np.ndarray) -> TokenSplit:
        """Every item of the given sentences (indices into ``self.sentences``)."""
        return self.take(np.flatnonzero(np.isin(self.items[:, 0], sentences)))


@dataclass(frozen=True)
class TokenTask:
    name: str
    kind: str  # "word" or "pair"
    label_names: tuple[str, ...]
    splits: Mapping[str, TokenSplit] = field(default_factory=dict)
    source: str = ""
    pooling: str = "mean"  # how a word's sub-word vectors become its vector (WORD_POOLINGS)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def __getitem__(self, split: str) -> TokenSplit:
        if split not in self.splits:
            raise DataError(f"token task {self.name!r} has no split {split!r}; it has {sorted(self.splits)}")
        return self.splits[split]

    def fingerprint(self) -> str:
        """SHA-256 of the content: sentences, items and labels of every split, and the label
        names (what an artifact built from this task depends on)."""
        import hashlib

        h = hashlib.sha256(json.dumps([self.kind, list(self.label_names)]).encode())
        if self.pooling != "mean":  # (a mean-pooled task keeps the key it had before this field)
            h.update(f"pooling:{self.pooling}".encode())
        for name in sorted(self.splits):
            split = self.splits[name]
            h.update(json.dumps([name, [list(s) for s in split.sentences]]).encode())
            h.update(np.ascontiguousarray(split.items, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(split.labels, dtype=np.int64).tobytes())
        return h.hexdigest()


def _task(name: str, kind: str, per_split: dict[str, list[tuple[tuple[str, ...], list[tuple[int, int, str]]]]],
          source: str) -> TokenTask:
    """A TokenTask from ``{split: [(words, [(word, head, label), ...]), ...]}``; labels numbered
    in sorted order over all splits."""
    names = sorted({label for sentences in per_split.values() for _, items in sentences for *_, label in items})
    code = {n: i for i, n in enumerate(names)}
    splits = {}
    for split, sentences in per_split.items():
        sentences = [(words, items) for words, items in sentences if items]  # (no labelled item: no use)
        rows = [(s, w, h, code[label]) for s, (_, items) in enumerate(sentences) for w, h, label in items]
        if not rows:
            raise DataError(f"{source}: the {split} split has no labelled {kind}s")
        arr = np.asarray(rows, dtype=np.int64)
        splits[split] = TokenSplit(tuple(words for words, _ in sentences), arr[:, :3], arr[:, 3])
    return TokenTask(name, kind, tuple(names), splits, source)


def split_sentences(n: int, fractions: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    """Sentence indices for train / validation / test, a seeded permutation cut at ``fractions``."""
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ConfigError(f"split fractions must be three positive numbers summing to 1, got {list(fractions)}")
    order = np.random.default_rng(seed).permutation(n)
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return {"train": np.sort(order[:a]), "validation": np.sort(order[a:b]), "test": np.sort(order[b:])}


def load_conllu(path: str | Path, task: str = "pos", *, relations: str = "base",
                fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0, name: str | None = None) -> TokenTask:
    """POS (``task="pos"``: each word's UPOS) or DEP (``"dep"``: each (head, dependent) pair's
    relation; ``relations="base"`` drops subtypes) from one CoNLL-U file, split by sentence.
    Multiword-token ranges and empty nodes are not words; the root has no head word, so it is not
    a DEP pair."""
    try:
        import conllu
    except ImportError:
        raise ConfigError("CoNLL-U needs the optional `conllu` package: pip install 'finetune-claims[tokens]'") from None
    if task not in ("pos", "dep"):
        raise ConfigError(f"task must be 'pos' or 'dep', got {task!r}")
    if relations not in ("base", "full"):
        raise ConfigError(f"relations must be 'base' or 'full', got {relations!r}")
    path = Path(path)
    sentences = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, sentence in enumerate(conllu.parse_incr(fh), 1):
                sid = sentence.metadata.get("sent_id", f"#{n}")
                words = [t for t in sentence if isinstance(t["id"], int)]  # not ranges (1-2) or empty nodes (1.1)
                index = {t["id"]: i for i, t in enumerate(words)}
                items = []
                for t in words:
                    at = f"{path}, sentence {sid}, token {t['id']} ({t['form']!r})"
                    if task == "pos":
                        if not t["upos"] or t["upos"] == "_":
                            raise DataError(f"{at}: no UPOS tag")
                        items.append((index[t["id"]], -1, t["upos"]))
                    else:
                        head, rel = t["head"], t["deprel"]
                        if not isinstance(head, int) or not rel or rel == "_":
                            raise DataError(f"{at}: no head or relation (head {head!r}, deprel {rel!r})")
                        if head == 0:
                            continue
                        if head not in index:
                            raise DataError(f"{at}: head {head} is not a word of the sentence")
                        items.append((index[t["id"]], index[head], rel if relations == "full" else rel.split(":")[0]))
                sentences.append((tuple(t["form"] for t in words), items))
    except conllu.exceptions.ParseException as exc:
        raise DataError(f"{path}: not valid CoNLL-U ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    if not sentences:
        raise DataError(f"{path}: no sentences")
    parts = split_sentences(len(sentences), fractions, seed)
    per_split = {split: [sentences[i] for i in idx] for split, idx in parts.items()}
    return _task(name or f"{path.stem}-{task}", "word" if task == "pos" else "pair", per_split,
                 f"conllu:{path} ({task}, seed {seed})")


def load_streusle(paths: Mapping[str, str | Path], target: str = "ss", *, name: str | None = None) -> TokenTask:
    """PS-role (``target="ss"``) or PS-fxn (``"ss2"``) from STREUSLE's JSON files, one per split
    (``{"train": ..., "test": ...}``): every single-token preposition or possessive (lexical
    category ``P``, ``INF.P``, ``PRON.POSS`` or ``POSS``) with a preposition supersense (``p.*``;
    the few ``??`` and ```$`` annotations are not supersenses)."""
    if target not in ("ss", "ss2"):
        raise ConfigError(f"target must be 'ss' (scene role) or 'ss2' (function), got {target!r}")
    per_split = {}
    for split, file in paths.items():
        file = Path(file)
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: not STREUSLE's JSON ({exc})") from None
        if not isinstance(doc, list):
            raise DataError(f"{file}: expected a list of sentences, got {type(doc).__name__}")
        sentences, lexcats = [], set()
        for n, sentence in enumerate(doc, 1):
            sid = sentence.get("sent_id", f"#{n}") if isinstance(sentence, dict) else f"#{n}"
            try:
                words = tuple(t["word"] for t in sentence["toks"])
                swes = sentence["swes"].values()
            except (KeyError, TypeError, AttributeError) as exc:
                raise DataError(f"{file}, sentence {sid}: no `toks` with words or no `swes` ({exc})") from None
            items = []
            for swe in swes:
                toknums, label = swe.get("toknums", []), swe.get(target)
                lexcats.add(str(swe.get("lexcat")))
                if swe.get("lexcat") in PREPOSITION_LEXCATS and len(toknums) == 1 and isinstance(label, str) \
                        and label.startswith("p."):
                    if not 1 <= toknums[0] <= len(words):
                        raise DataError(f"{file}, sentence {sid}, token {toknums[0]}: not a token of the sentence")
                    items.append((toknums[0] - 1, -1, label))
            sentences.append((words, items))
        if doc and not any(items for _, items in sentences):
            # (STREUSLE 4.x's layout is assumed: say what was looked for, and what the file holds.)
            raise DataError(f"{file}: none of its {len(doc)} sentences has a single-token preposition or possessive "
                            f"(lexcat {', '.join(sorted(PREPOSITION_LEXCATS))}) with a `{target}` supersense "
                            f"(p.*); its lexcats: {', '.join(sorted(lexcats)[:12]) or 'none'}. Expected STREUSLE "
                            "4.x's JSON: sentences with `toks` and `swes` ({`lexcat`, `ss`, `ss2`, `toknums`})")
        per_split[split] = sentences
    return _task(name or f"streusle-{'role' if target == 'ss' else 'fxn'}", "word", per_split,
                 f"streusle:{', '.join(str(p) for p in paths.values())} ({target})")


def with_validation(task: TokenTask, fraction: float = 0.1, seed: int = 0) -> TokenTask:
    """The task with a validation split; carved from train by sentence (seeded) when it has none
    (STREUSLE's dev file as train, its test file as test)."""
    if "validation" in task.splits:
        return task
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    train = task["train"]
    n = len(train.sentences)
    if n < 2:
        raise DataError(f"{task.source}: the train split has {n} sentence(s); a validation split needs at least 2")
    chosen = np.sort(np.random.default_rng(seed).permutation(n)[:max(1, round(n * fraction))])
    rest = np.setdiff1d(np.arange(n), chosen)
    splits = dict(task.splits)
    splits["train"], splits["validation"] = train.sentence_subset(rest), train.sentence_subset(chosen)
    return replace(task, splits=splits, source=f"{task.source}; validation carved from train by sentence")


def resize(task: TokenTask, sizes: Mapping[str, int | None], seed: int = 0) -> TokenTask:
    """The task with each split named in ``sizes`` cut to that many items (stratified by label,
    seeded); sentences keep all their words as context, only the labelled items are fewer."""
    from .data import SPLITS, stratified_indices

    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise ConfigError(f"sizes name unknown split(s) {sorted(unknown)}; allowed: {list(SPLITS)}")
    splits = dict(task.splits)
    for name, n in sizes.items():
        if n is None or name not in splits:
            continue
        if n > len(splits[name]):
            raise ConfigError(f"sizes.{name} = {n}: the {name} split of {task.name} has only {len(splits[name])} "
                              f"{task.kind}s (allowed: 1 to {len(splits[name])}, or leave it out to use them all)")
        if n < len(splits[name]):
            splits[name] = splits[name].take(stratified_indices(splits[name].labels, n, seed))
    return replace(task, splits=splits)


def load(source: str, params: Mapping, seed: int = 0) -> TokenTask:
    """A token task as a fixture's [task] table declares it:

    - ``source = "conllu"``: ``path`` (one CoNLL-U file), ``task`` (pos | dep), ``relations``
      (base | full), ``fractions`` (train / validation / test by sentence, default 0.8 / 0.1 / 0.1);
    - ``source = "streusle"``: ``train`` and ``test`` (and optionally ``validation``) JSON files,
      ``target`` (ss: PS-role | ss2: PS-fxn).

    Both take ``word_pooling`` (mean | first) and ``name``. A file may be a local path, an
    ``http(s)://`` or ``file://`` URL or ``hf://datasets/<owner>/<name>[@<revision>]/<file>``
    (:mod:`harness.remote`), pinned by ``sha256`` (a string for ``path``, a table keyed like the
    files for STREUSLE)."""
    from .remote import local_copy

    params = dict(params)
    pins = params.pop("sha256", {}) or {}
    for key in ("path", "train", "validation", "test"):  # a URL or hf:// file: fetched once, into a cache
        if key in params:
            params[key] = local_copy(params[key], pins.get(key) if isinstance(pins, dict) else pins)
    pooling = params.pop("word_pooling", "mean")
    if pooling not in WORD_POOLINGS:
        raise ConfigError(f"word_pooling = {pooling!r}: must be one of {list(WORD_POOLINGS)}")
    allowed = {"conllu": {"path", "task", "relations", "fractions", "name"},
               "streusle": {"train", "validation", "test", "target", "name"}}[source]
    unknown = set(params) - allowed
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} for a {source} task; allowed: "
                          f"{sorted(allowed | {'word_pooling', 'sha256', 'sizes', 'split_seed', 'validation_fraction'})}")
    if source == "conllu":
        if "path" not in params:
            raise ConfigError("a conllu task needs `path`: the CoNLL-U file")
        task = load_conllu(Path(params.pop("path")).expanduser(), params.pop("task", "pos"),
                           relations=params.pop("relations", "base"),
                           fractions=tuple(params.pop("fractions", (0.8, 0.1, 0.1))), seed=seed,
                           name=params.pop("name", None))
    else:
        files = {s: params.pop(s) for s in ("train", "validation", "test") if s in params}
        if not {"train", "test"} <= set(files):
            raise ConfigError(f"a streusle task needs `train` and `test` (JSON files), got {sorted(files)}")
        task = load_streusle(files, params.pop("target", "ss"), name=params.pop("name", None))
    return replace(task, pooling=pooling)


# ---------------------------------------------------------------------------------------------
# Word and pair representations

WORD_POOLINGS = ("mean", "first")  # a word's sub-words: averaged (the paper's choice) or the first


def encode_words(model: torch.nn.Module, tokenizer, sentences: Sequence[Sequence[str]], *, layers: Sequence[int] = (-1,),
                 pooling: str = "mean", max_length: int = 512, batch_size: int = 32) -> dict[int, list[np.ndarray]]:
    """Each word's vector in its sentence, ``{layer: [(n_words, dim) per sentence]}``: the average
    of the word's sub-word vectors (``pooling="mean"``, Zhou and Srikumar's choice) or its first
    sub-word's. Sentences go through the encoder in length-sorted batches, each padded to its own
    longest; a sentence longer than ``max_length`` sub-words is refused (its last words would have
    no vector), naming it. Out of accelerator memory, the batch is halved (as ``encode`` does)."""
    from .encoders import autocast_for, in_batches, resolve_layers

    if pooling not in WORD_POOLINGS:
        raise ConfigError(f"word pooling must be one of {list(WORD_POOLINGS)}, got {pooling!r}")
    wanted = resolve_layers(layers, int(model.config.num_hidden_layers))
    device = next(model.parameters()).device
    encoded = [tokenizer(list(words), is_split_into_words=True, truncation=False) for words in sentences]
    for i, enc in enumerate(encoded):
        if len(enc["input_ids"]) > max_length:
            raise ConfigError(f"sentence {i} ({' '.join(sentences[i])[:60]}...) has {len(enc['input_ids'])} sub-words, "
                              f"more than max_length = {max_length}: raise max_length")
        if set(range(len(sentences[i]))) - {w for w in enc.word_ids() if w is not None}:
            raise DataError(f"sentence {i}: a word became no sub-word at all in the tokenizer "
                            f"({[w for k, w in enumerate(sentences[i]) if k not in set(enc.word_ids())]})")
    out: dict[int, list[np.ndarray | None]] = {layer: [None] * len(sentences) for layer in wanted}
    order = np.argsort([-len(e["input_ids"]) for e in encoded], kind="stable")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()

    def step(batch: np.ndarray, start: int) -> None:
        width = max(len(encoded[i]["input_ids"]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            n = len(encoded[i]["input_ids"])
            ids[row, :n] = torch.tensor(encoded[i]["input_ids"])
            mask[row, :n] = 1
        hidden = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True).hidden_states
        for row, i in enumerate(batch):
            word_ids = np.array([-1 if w is None else w for w in encoded[i].word_ids()])
            for layer in wanted:
                h = hidden[layer][row, : len(word_ids)].float().cpu().numpy()
                out[layer][i] = _pool_words(h, word_ids, len(sentences[i]), pooling)

    try:
        with torch.inference_mode(), autocast_for(device):
            in_batches(order, batch_size, device, "encode_words", step)
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def _pool_words(hidden: np.ndarray, word_ids: np.ndarray, n_words: int, pooling: str) -> np.ndarray:
    """(n_words, dim) from one sentence's sub-word rows: each word's mean or first sub-word."""
    keep = word_ids >= 0
    if pooling == "first":
        first = np.full(n_words, -1)
        for pos in np.flatnonzero(keep)[::-1]:
            first[word_ids[pos]] = pos
        return hidden[first]
    sums = np.zeros((n_words, hidden.shape[1]), dtype=np.float64)
    np.add.at(sums, word_ids[keep], hidden[keep])
    counts = np.bincount(word_ids[keep], minlength=n_words)[:, None]
    return (sums / counts).astype(np.float32)


def item_vectors(words: Sequence[np.ndarray], split: TokenSplit, kind: str) -> np.ndarray:
    """The representation of every item of ``split``: its word's vector, or for a pair the
    concatenation of the head's and the dependent's (``(n, 2 * dim)``)."""
    s, w, h = split.items[:, 0], split.items[:, 1], split.items[:, 2]
    dep = np.stack([words[i][j] for i, j in zip(s, w, strict=True)])
    if kind == "word":
        return dep
    head = np.stack([words[i][j] for i, j in zip(s, h, strict=True)])
    return np.concatenate([head, dep], axis=1)


# ---------------------------------------------------------------------------------------------
# Fine-tuning on token tasks


class TokenClassifier(torch.nn.Module):
    """An encoder with a linear head (after dropout, as Hugging Face's token classification) on
    each item's representation: its word's vector (the sub-words averaged, or the first) or the
    concatenation of the head's and the dependent's, from the last layer. The same representation
    as :func:`encode_words` and :func:`item_vectors`, computed differentiably."""

    def __init__(self, encoder: torch.nn.Module, num_labels: int, kind: str, pooling: str = "mean",
                 dropout: float = 0.1):
        super().__init__()
        if kind not in KINDS:
            raise ConfigError(f"token task kind must be one of {list(KINDS)}, got {kind!r}")
        self.encoder, self.kind, self.pooling = encoder, kind, pooling
        width = int(encoder.config.hidden_size) * (2 if kind == "pair" else 1)
        self.head = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(width, num_labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_of: torch.Tensor,
                n_words: int, dep: torch.Tensor, head: torch.Tensor | None) -> torch.Tensor:
        """``word_of``: for each sub-word position of the flattened batch, its word's index among
        the batch's ``n_words`` words (-1: special tokens, padding, or not the first sub-word
        when pooling the first); ``dep`` / ``head``: each item's word indices."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1]).float()
        keep = word_of >= 0
        sums = torch.zeros(n_words, flat.shape[1], device=flat.device).index_add(0, word_of[keep], flat[keep])
        counts = torch.zeros(n_words, device=flat.device).index_add(0, word_of[keep], torch.ones_like(word_of[keep],
                                                                                                   dtype=torch.float))
        words = sums / counts.clamp(min=1)[:, None]
        item = words[dep] if head is None else torch.cat([words[head], words[dep]], dim=1)
        return self.head(item)


@dataclass(frozen=True)
class _Tokenized:
    ids: list[list[int]]
    word_ids: list[np.ndarray]  # per sub-word: its word's index in the sentence, -1 for special tokens


def _tokenize(tokenizer, sentences: Sequence[Sequence[str]], pooling: str) -> _Tokenized:
    ids, word_ids = [], []
    for words in sentences:
        enc = tokenizer(list(words), is_split_into_words=True, truncation=False)
        w = np.array([-1 if v is None else v for v in enc.word_ids()], dtype=np.int64)
        if pooling == "first":  # only each word's first sub-word counts
            seen = set()
            for pos, v in enumerate(w):
                if v >= 0 and v in seen:
                    w[pos] = -1
                seen.add(int(v))
        ids.append(enc["input_ids"])
        word_ids.append(w)
    return _Tokenized(ids, word_ids)


def _batch(tok: _Tokenized, split: TokenSplit, sentences: np.ndarray, items: np.ndarray, pad: int,
           device: torch.device):
    """Tensors for ``sentences`` (indices into the split) and the ``items`` that lie in them."""
    width = max(len(tok.ids[i]) for i in sentences)
    ids = torch.full((len(sentences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sentences), width), dtype=torch.long)
    word_of = np.full((len(sentences), width), -1, dtype=np.int64)
    offset = {}
    n_words = 0
    for row, i in enumerate(sentences):
        n = len(tok.ids[i])
        ids[row, :n] = torch.tensor(tok.ids[i])
        mask[row, :n] = 1
        w = tok.word_ids[i]
        word_of[row, :n] = np.where(w >= 0, w + n_words, -1)
        offset[int(i)] = n_words
        n_words += len(split.sentences[i])
    base = np.array([offset[int(s)] for s in split.items[items, 0]], dtype=np.int64)
    dep = torch.from_numpy(base + split.items[items, 1])
    head = torch.from_numpy(base + split.items[items, 2]) if split.items[items, 2].min() >= 0 else None
    return (ids.to(device), mask.to(device), torch.from_numpy(word_of.reshape(-1)).to(device), n_words,
            dep.to(device), None if head is None else head.to(device))


@dataclass
class TokenFineTuneResult:
    classifier: TokenClassifier
    losses: list[float]
    snapshots: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # step -> layer -> items x dim
    total_steps: int = 0


def fine_tune_tokens(encoder, task: TokenTask, config, seed: int, progress=None) -> TokenFineTuneResult:
    """Fine-tune ``encoder`` (changed in place) with a :class:`TokenClassifier` on the task's train
    items; a batch is ``config.batch_size`` sentences with all their labelled items (Zhou and
    Srikumar's protocol is the ``zhou`` preset of :class:`harness.protocols.FineTuneConfig`).
    Sentences are never truncated (``config.max_length`` applies to sentence tasks only).
    Snapshots: the item vectors of ``config.snapshot_split`` at ``config.snapshot_layers``.
    Deterministic for a given seed on the CPU; one process (no data parallelism)."""
    import math

    from .protocols import (
        FiniteLossCheck,
        MicroBatches,
        adamw,
        linear_schedule,
        prepare,
        snapshot_steps,
    )
    from .runtime import seeded

    model, tokenizer = encoder.model, encoder.tokenizer
    device = next(model.parameters()).device
    train = task["train"]
    tok = _tokenize(tokenizer, train.sentences, task.pooling)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    limit = int(getattr(model.config, "max_position_embeddings", 512))
    too_long = [i for i, ids in enumerate(tok.ids) if len(ids) > limit]
    if too_long:
        i = too_long[0]
        raise DataError(f"{task.source}: train sentence {i} ({' '.join(train.sentences[i])[:60]}...) has "
                        f"{len(tok.ids[i])} sub-words, more than the encoder's {limit} positions")
    items_of = [[] for _ in train.sentences]
    for row, s in enumerate(train.items[:, 0]):
        items_of[s].append(row)
    labels = torch.from_numpy(np.asarray(train.labels, dtype=np.int64))
    steps_per_epoch = math.ceil(len(train.sentences) / config.batch_size)
    total = steps_per_epoch * config.epochs
    snap_steps = snapshot_steps(config.snapshot_at, total)
    with seeded(seed, deterministic=device.type == "cpu"):
        classifier = TokenClassifier(model, task.num_labels, task.kind, task.pooling, config.head_dropout).to(device)
        prepare(model, config)
        optimizer = adamw([p for p in classifier.parameters() if p.requires_grad], config.lr, config.weight_decay)
        schedule = linear_schedule(optimizer, int(config.warmup_ratio * total), total)
        generator = torch.Generator().manual_seed(seed)
        loss_fn = torch.nn.CrossEntropyLoss()
        result = TokenFineTuneResult(classifier, [], total_steps=total)

        def snapshot(step: int) -> None:
            if step in snap_steps:
                split = task[config.snapshot_split]
                words = encode_words(model, tokenizer, split.sentences, layers=config.snapshot_layers,
                                     pooling=task.pooling, max_length=limit)
                result.snapshots[step] = {layer: item_vectors(v, split, task.kind) for layer, v in words.items()}

        micro_batches = MicroBatches("fine_tune_tokens", "sentences", device)

        def train_step(sentences: np.ndarray, micro: int) -> torch.Tensor:
            """One optimizer step's gradient on the items of ``sentences``, as ``micro`` accumulated
            micro-batches of sentences, each one's mean loss weighted by its share of the items."""
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            everything = sum(len(items_of[i]) for i in sentences)
            for part in np.array_split(sentences, micro):
                items = np.concatenate([items_of[i] for i in part]).astype(np.int64)
                if micro > 1 and len(items) == 0:  # (sentences without a labelled item add nothing)
                    continue
                logits = classifier(*_batch(tok, train, part, items, pad, device))
                loss = loss_fn(logits.float(), labels[items].to(device))
                if micro > 1:
                    loss = loss * (len(items) / everything)
                loss.backward()
                step_loss += loss.detach()
            return step_loss

        step, losses = 0, []
        finite = FiniteLossCheck(total, seed, config.lr)
        snapshot(0)
        classifier.train()
        for _ in range(config.epochs):
            order = torch.randperm(len(train.sentences), generator=generator).numpy()
            for start in range(0, len(order), config.batch_size):
                loss = micro_batches.run(train_step, order[start:start + config.batch_size], optimizer)
                if config.grad_clip:
                    torch.nn.utils.clip_grad_norm_(classifier.parameters(), config.grad_clip)
                optimizer.step()
                schedule.step()
                losses.append(loss)
                step += 1
                finite(losses, step)
                if progress is not None:
                    progress(step)
                if step in snap_steps:
                    snapshot(step)
                    classifier.train()
        classifier.eval()
        result.losses = torch.stack(losses).float().cpu().tolist() if losses else []
    return result


def token_logits(classifier: TokenClassifier, tokenizer, split: TokenSplit, kind: str, pooling: str,
                 batch_size: int = 32) -> np.ndarray:
    """The fine-tuned head's logits on every item of ``split`` (from :func:`encode_words`'s
    last layer, the representation the head was trained on)."""
    limit = int(getattr(classifier.encoder.config, "max_position_embeddings", 512))
    words = encode_words(classifier.encoder, tokenizer, split.sentences, layers=(-1,), pooling=pooling,
                         max_length=limit, batch_size=batch_size)
    (vectors,) = words.values()
    x = item_vectors(vectors, split, kind)
    head = classifier.head.eval()
    weight = next(head.parameters())
    with torch.inference_mode():
        return head(torch.from_numpy(x).to(weight.device)).float().cpu().numpy()
