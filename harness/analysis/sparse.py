"""Sparse baselines (Hart): bag-of-words features and logistic regression, scored by k-fold CV.

Three feature kinds, all scikit-learn vectorisers over word unigrams and bigrams:

- ``tfidf``: TF-IDF weights (``TfidfVectorizer``, sublinear term frequency);
- ``counts``: raw token counts (``CountVectorizer``);
- ``hashing``: counts hashed into 2^20 columns (``HashingVectorizer``, no vocabulary kept).

Each is followed by ``LogisticRegression``. :func:`cross_validate_sparse` scores a pipeline with
stratified k-fold cross-validation on the train split (accuracy and macro-F1 per fold);
:func:`fit_sparse` fits it on the whole train split for test-set predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

FEATURES = ("tfidf", "counts", "hashing")


def make_pipeline(features: str, C: float = 1.0, seed: int = 0):
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    if features == "tfidf":
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    elif features == "counts":
        vectorizer = CountVectorizer(ngram_range=(1, 2), min_df=1)
    elif features == "hashing":
        vectorizer = HashingVectorizer(ngram_range=(1, 2), n_features=2**20, alternate_sign=False, norm="l2")
    else:
        raise ConfigError(f"unknown sparse features {features!r}; allowed: {list(FEATURES)}")
    return Pipeline([("features", vectorizer),
                     ("logreg", LogisticRegression(C=C, max_iter=2000, random_state=seed))])


@dataclass(frozen=True)
class CVScores:
    accuracy: np.ndarray  # one per fold
    f1_macro: np.ndarray


def check_folds(labels: np.ndarray, folds: int, label_names: Sequence[str] | None = None) -> None:
    counts = np.bincount(labels)
    if folds < 2:
        raise ConfigError(f"sparse baselines need at least 2 folds, got {folds}")
    present = np.flatnonzero(counts)
    rare = [int(i) for i in present if counts[i] < folds]
    if rare:
        names = [label_names[i] if label_names else str(i) for i in rare]
        raise ConfigError(f"{folds}-fold cross-validation needs at least {folds} training examples of each "
                          f"label; too few of {names} ({[int(counts[i]) for i in rare]}): lower folds")


def cross_validate_sparse(texts: Sequence[str], labels: np.ndarray, features: str, *, folds: int = 10,
                          seed: int = 0, C: float = 1.0, label_names: Sequence[str] | None = None) -> CVScores:
    """Stratified ``folds``-fold CV (shuffled with ``seed``) of a sparse pipeline on ``texts``, the
    folds fitted side by side on this process's share of the CPUs (each fold's fit is the same
    wherever it runs: the scores do not depend on it). On 2 cores the smoke fixtures' 60 fits
    took 32 s one at a time."""
    from sklearn.model_selection import StratifiedKFold, cross_validate

    from ..runtime import cpu_share

    labels = np.asarray(labels, dtype=np.int64)
    check_folds(labels, folds, label_names)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    jobs = min(folds, cpu_share())
    result = cross_validate(make_pipeline(features, C, seed), list(texts), labels, cv=splitter,
                            scoring=("accuracy", "f1_macro"), n_jobs=jobs if jobs > 1 else None)
    return CVScores(np.asarray(result["test_accuracy"]), np.asarray(result["test_f1_macro"]))


def fit_sparse(texts: Sequence[str], labels: np.ndarray, features: str, *, seed: int = 0, C: float = 1.0):
    """The pipeline fitted on all of ``texts``; its ``decision_function`` gives logits-like scores."""
    return make_pipeline(features, C, seed).fit(list(texts), np.asarray(labels, dtype=np.int64))


def scores(model, texts: Sequence[str], num_labels: int) -> np.ndarray:
    """``(n, num_labels)`` class scores (log-probabilities), columns in label order even when
    the training split lacked a label."""
    out = np.full((len(texts), num_labels), -np.inf)
    out[:, model.classes_] = model.predict_log_proba(list(texts))
    return out
