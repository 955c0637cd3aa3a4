"""Generated tasks for offline smoke runs: short product reviews with planted labels.

Every generated text is a short review that mentions one *topic* (what was reviewed: a phone, a
pizza, a hotel...) and carries one *sentiment* (how the reviewer felt). Two unrelated tasks read
the same kind of text:

- ``sentiment``: negative / positive, from the review's opinion words;
- ``topic``: electronics / food / travel / sports, from the review's nouns;
- ``questions``: not reviews but trivia questions labelled location / person / number (what they
  ask for): another domain, for the in-domain vs out-of-domain claim.

The two latent variables are drawn independently, so a model tuned for one task learns nothing
about the other: that is what the cross-task claims need. ``signal`` (0..1) tunes how learnable a
task is: each cue word agrees with the label with probability ``signal`` and is drawn from a random
class otherwise, so 1.0 is a clean task and ``1 / num_labels`` is pure noise. Neutral filler words
and varying templates keep the texts from being trivially identical.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from . import Task, make_task

SENTIMENT = {
    "negative": ["awful", "terrible", "disappointing", "broken", "boring", "bad", "poor", "horrible",
                 "useless", "dreadful", "annoying", "mediocre"],
    "positive": ["great", "wonderful", "excellent", "lovely", "superb", "fantastic", "good", "brilliant",
                 "delightful", "perfect", "amazing", "pleasant"],
}
TOPIC = {
    "electronics": ["phone", "laptop", "camera", "charger", "screen", "headset", "keyboard", "tablet"],
    "food": ["pizza", "soup", "burger", "salad", "coffee", "pasta", "dessert", "sandwich"],
    "travel": ["hotel", "flight", "beach", "room", "train", "resort", "cruise", "museum"],
    "sports": ["match", "racket", "bicycle", "stadium", "helmet", "team", "ball", "gym"],
}
FILLER = ["honestly", "really", "quite", "overall", "today", "again", "still", "just", "maybe",
          "yesterday", "somehow", "frankly"]
TEMPLATES = [
    "the {t} was {s} and {f} {s2}",
    "{f} , this {t} is {s}",
    "i think the {t} felt {s} , {f} {s2}",
    "what a {s} {t} , {f}",
    "my {t} arrived and it was {s} {f}",
    "{f} {s} experience with the {t} , {s2} {t2}",
]
# Out-of-domain texts for the reviews: trivia questions (TREC-like), labelled by what they ask for.
QUESTIONS = {
    "location": ["where is the {x} ?", "which country has the largest {x} ?", "where can one see the {x} ?",
                 "in which city was the {x} found ?"],
    "person": ["who wrote the {x} ?", "who invented the {x} ?", "who discovered the {x} ?",
               "who was the first to describe the {x} ?"],
    "number": ["how many {x} are there ?", "how old is the {x} ?", "when was the {x} first measured ?",
               "how far away is the {x} ?"],
}
SUBJECTS = ["river", "glacier", "telescope", "novel", "planet", "bridge", "opera", "volcano", "comet",
            "manuscript", "lighthouse", "cathedral", "fossil", "canal", "symphony", "island"]
KINDS = {"sentiment": SENTIMENT, "topic": TOPIC, "questions": QUESTIONS}


def generate_questions(n: int, signal: float, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` trivia questions and their answer-type labels (location, person, number): text from
    another domain than the reviews, for the in-domain vs out-of-domain claim."""
    _check_split(n, signal)
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(QUESTIONS), size=n)
    labels[: len(QUESTIONS)] = np.arange(len(QUESTIONS))[:n]
    texts = []
    for label in labels:
        template = _draw(QUESTIONS, int(label), signal, rng)
        texts.append(template.format(x=SUBJECTS[int(rng.integers(len(SUBJECTS)))]))
    return texts, labels


def _check_split(n: int, signal: float) -> None:
    if n < 2:
        raise ConfigError(f"a generated split needs at least 2 examples, got n={n}")
    if not 0.0 <= signal <= 1.0:
        raise ConfigError(f"signal must be in [0, 1], got {signal}")


def _draw(vocab: dict[str, list[str]], label: int, signal: float, rng: np.random.Generator) -> str:
    names = list(vocab)
    cls = label if rng.random() < signal else int(rng.integers(len(names)))
    words = vocab[names[cls]]
    return words[int(rng.integers(len(words)))]


def generate_texts(n: int, signal: float, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` reviews with their sentiment and topic label indices (independent of each other)."""
    _check_split(n, signal)
    rng = np.random.default_rng(seed)
    sentiment = rng.integers(len(SENTIMENT), size=n)
    topic = rng.integers(len(TOPIC), size=n)
    # Every class present at least once, whatever the seed (a split must have two classes).
    sentiment[: len(SENTIMENT)] = np.arange(len(SENTIMENT))[: n]
    topic[: len(TOPIC)] = np.arange(len(TOPIC))[: min(n, len(TOPIC))]
    texts = []
    for s, t in zip(sentiment, topic, strict=True):
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        texts.append(
            template.format(
                s=_draw(SENTIMENT, s, signal, rng),
                s2=_draw(SENTIMENT, s, signal, rng),
                t=_draw(TOPIC, t, signal, rng),
                t2=_draw(TOPIC, t, signal, rng),
                f=FILLER[int(rng.integers(len(FILLER)))],
            )
        )
    return texts, sentiment, topic


def generate_task(
    kind: str,
    *,
    n_train: int = 400,
    n_validation: int = 100,
    n_test: int = 200,
    signal: float = 0.9,
    seed: int = 0,
) -> Task:
    """A generated ``sentiment`` or ``topic`` task; the same seed gives the same texts."""
    if kind not in KINDS:
        raise ConfigError(f"unknown generated task kind {kind!r}; allowed: {sorted(KINDS)}")
    vocab = KINDS[kind]
    columns = {}
    for offset, (split, n) in enumerate(
        (("train", n_train), ("validation", n_validation), ("test", n_test))
    ):
        if n == 0 and split == "validation":
            continue
        if kind == "questions":
            texts, labels = generate_questions(n, signal, seed * 1000 + offset)
        else:
            texts, sentiment, topic = generate_texts(n, signal, seed * 1000 + offset)
            labels = sentiment if kind == "sentiment" else topic
        columns[split] = (texts, [list(vocab)[i] for i in labels])
    return make_task(
        f"synthetic-{kind}", columns, source=f"synthetic:{kind}(signal={signal}, seed={seed})"
    )
