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

from ..constraints import (
    AnyOf,
    Constraint,
    Interval,
    ListOf,
    Options,
    OrNone,
    Table,
    Text,
    check_table,
    require,
)
from ..errors import ConfigError, DataError

KINDS = ("word", "pair")
WORD_POOLINGS = ("mean", "first")  # a word's sub-words: averaged (the paper's choice) or the first
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
    from . import SPLITS, stratified_indices

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


FILE = Text(nonempty=True)  # a local path (relative to the fixture file) or a URL (harness/data/remote.py)
FRACTIONS = ListOf(Interval(float, 0, 1), nonempty=True)
# The keys of a token source's [task] table (harness/constraints.py) and those it needs; the table
# of every source (harness/data/tasks.py) takes these
SOURCE_KEYS: dict[str, tuple[dict[str, Constraint], tuple[str, ...]]] = {
    "conllu": ({"path": FILE, "task": Options(("pos", "dep")), "relations": Options(("base", "full")),
                "fractions": FRACTIONS, "word_pooling": Options(WORD_POOLINGS), "sha256": Text(nonempty=True)},
               ("path",)),
    "streusle": ({"train": FILE, "validation": FILE, "test": FILE, "target": Options(("ss", "ss2")),
                  "word_pooling": Options(WORD_POOLINGS), "sha256": AnyOf((Text(nonempty=True), Table()))},
                 ("train", "test")),
}


def load(source: str, params: Mapping, seed: int = 0) -> TokenTask:
    """A token task as a fixture's [task] table declares it:

    - ``source = "conllu"``: ``path`` (one CoNLL-U file), ``task`` (pos | dep), ``relations``
      (base | full), ``fractions`` (train / validation / test by sentence, default 0.8 / 0.1 / 0.1);
    - ``source = "streusle"``: ``train`` and ``test`` (and optionally ``validation``) JSON files,
      ``target`` (ss: PS-role | ss2: PS-fxn).

    Both take ``word_pooling`` (mean | first) and ``name``. A file may be a local path, an
    ``http(s)://`` or ``file://`` URL or ``hf://datasets/<owner>/<name>[@<revision>]/<file>``
    (:mod:`harness.data.remote`), pinned by ``sha256`` (a string for ``path``, a table keyed like the
    files for STREUSLE)."""
    from .remote import local_copy

    keys, needs = SOURCE_KEYS[source]
    check_table(params, keys | {"name": OrNone(Text(nonempty=True))}, "[task]")
    require(params, needs, "[task]", f"a {source} task")
    params = dict(params)
    pins = params.pop("sha256", {}) or {}
    for key in ("path", "train", "validation", "test"):  # a URL or hf:// file: fetched once, into a cache
        if key in params:
            params[key] = local_copy(params[key], pins.get(key) if isinstance(pins, dict) else pins)
    pooling = params.pop("word_pooling", "mean")
    if source == "conllu":
        task = load_conllu(Path(params.pop("path")).expanduser(), params.pop("task", "pos"),
                           relations=params.pop("relations", "base"),
                           fractions=tuple(params.pop("fractions", (0.8, 0.1, 0.1))), seed=seed,
                           name=params.pop("name", None))
    else:
        files = {s: params.pop(s) for s in ("train", "validation", "test") if s in params}
        task = load_streusle(files, params.pop("target", "ss"), name=params.pop("name", None))
    return replace(task, pooling=pooling)
