"""Small token-level corpora written on the fly, in the formats of the real ones: a CoNLL-U
treebank (UD's columns) and a STREUSLE folder (the official repository's train/ dev/ test/ JSON),
for tests that must run without ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# (word, UPOS, head offset from the word or 0 for the root, relation)
_TEMPLATES = [
    [("the", "DET", 1, "det"), ("{n}", "NOUN", 1, "nsubj"), ("{v}", "VERB", 0, "root"), (".", "PUNCT", -1, "punct")],
    [("my", "PRON", 1, "nmod:poss"), ("{n}", "NOUN", 1, "nsubj"), ("{v}", "VERB", 0, "root"),
     ("to", "ADP", 1, "case"), ("{n2}", "NOUN", -2, "obl"), (".", "PUNCT", -3, "punct")],
]
NOUNS = ["cat", "dog", "house", "teacher", "river", "city", "garden", "friend"]
VERBS = ["sleeps", "runs", "waits", "sings", "swims", "works"]


def write_conllu(path: Path, n_sentences: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = []
    for s in range(n_sentences):
        template = _TEMPLATES[s % len(_TEMPLATES)]
        fill = {"n": rng.choice(NOUNS), "n2": rng.choice(NOUNS), "v": rng.choice(VERBS)}
        words = [w.format(**fill) for w, *_ in template]
        lines += [f"# sent_id = t{s}", f"# text = {' '.join(words)}"]
        for i, ((_, upos, offset, rel), form) in enumerate(zip(template, words, strict=True), 1):
            head = 0 if rel == "root" else i + offset
            lines.append(f"{i}\t{form}\t{form}\t{upos}\t_\t_\t{head}\t{rel}\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_streusle(folder: Path, per_split: int = 30, seed: int = 0) -> Path:
    """``folder/{train,dev,test}/streusle.ud_<split>.json``; every sentence has one preposition
    (``to`` / ``in`` / ``for``) with a role and a function supersense, and one possessive."""
    rng = np.random.default_rng(seed)
    senses = {"to": ("p.Goal", "p.Goal"), "in": ("p.Locus", "p.Locus"), "for": ("p.Beneficiary", "p.Purpose")}
    for split in ("train", "dev", "test"):
        doc = []
        for s in range(per_split):
            prep = ["to", "in", "for"][s % 3]
            words = ["I", "went", prep, "my", str(rng.choice(NOUNS)), f"#{s}"]  # (#s: every sentence unique)
            role, fxn = senses[prep]
            doc.append({"sent_id": f"{split}-{s}", "toks": [{"word": w} for w in words],
                        "swes": {"3": {"lexcat": "P", "ss": role, "ss2": fxn, "toknums": [3]},
                                 "4": {"lexcat": "PRON.POSS", "ss": "p.Possessor", "ss2": "p.Gestalt", "toknums": [4]}}})
        (folder / split).mkdir(parents=True, exist_ok=True)
        (folder / split / f"streusle.ud_{split}.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder
