"""Sparse baselines: the CV scores against a hand-written fold loop, and the harness artifact."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.sparse import (
    FEATURES,
    cross_validate_sparse,
    fit_sparse,
    make_pipeline,
    scores,
)
from harness.data.synthetic import generate_task
from harness.errors import ConfigError
from harness.pipeline.build import Harness, Predictions
from harness.store import ArtifactStore


@pytest.fixture(scope="module")
def task():
    return generate_task("sentiment", n_train=120, n_validation=20, n_test=60, signal=0.7, seed=3)


@pytest.mark.parametrize("features", FEATURES)
def test_cv_scores_equal_a_hand_written_fold_loop(task, features):
    """Reference: the same stratified folds, each fold fitted and scored by hand (accuracy as the
    share of right answers, macro-F1 from per-class precision and recall)."""
    from sklearn.model_selection import StratifiedKFold

    texts, labels = list(task["train"].texts), task["train"].labels
    got = cross_validate_sparse(texts, labels, features, folds=5, seed=1)
    acc, f1 = [], []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=1).split(texts, labels):
        model = make_pipeline(features, seed=1).fit([texts[i] for i in train], labels[train])
        pred, gold = model.predict([texts[i] for i in test]), labels[test]
        acc.append(np.mean(pred == gold))
        per_class = []
        for c in np.unique(labels):
            tp = np.sum((pred == c) & (gold == c))
            prec = tp / max(np.sum(pred == c), 1)
            rec = tp / max(np.sum(gold == c), 1)
            per_class.append(0.0 if tp == 0 else 2 * prec * rec / (prec + rec))
        f1.append(np.mean(per_class))
    np.testing.assert_allclose(got.accuracy, acc)
    np.testing.assert_allclose(got.f1_macro, f1)
    assert 0.6 < got.accuracy.mean() <= 1.0  # the generated sentiment words are learnable


def test_feature_kinds_differ_and_bad_input_is_named(task):
    texts, labels = list(task["train"].texts), task["train"].labels
    probs = {k: fit_sparse(texts, labels, k).predict_proba(texts[:20]) for k in FEATURES}
    assert not np.allclose(probs["tfidf"], probs["counts"])
    with pytest.raises(ConfigError, match="unknown sparse features 'bert'"):
        make_pipeline("bert")
    few = np.array([0] * 30 + [1] * 3)
    with pytest.raises(ConfigError, match=r"at least 5 training examples of each label; too few of \['pos'\] \(\[3\]\)"):
        cross_validate_sparse(["a b"] * 33, few, "tfidf", folds=5, label_names=["neg", "pos"])


def test_scores_keep_label_columns_when_train_lacks_a_label():
    model = fit_sparse(["good film", "great fun", "bad plot", "awful acting"], np.array([0, 0, 2, 2]), "counts")
    s = scores(model, ["good plot"], 3)
    assert s.shape == (1, 3) and s[0, 1] == -np.inf and np.isfinite(s[0, [0, 2]]).all()


def test_sparse_artifact_is_cached_with_predictions(tmp_path, task):
    h = Harness(ArtifactStore(tmp_path), device="cpu")
    art = h.sparse(task, "tfidf", folds=4, seed=0)
    assert art.array("cv_accuracy").shape == (4,)
    preds = Predictions.of(art, "test")
    assert preds.accuracy == pytest.approx(art.meta["accuracy"]["test"])
    again = h.sparse(task, "tfidf", folds=4, seed=0)
    assert again.path == art.path and f"sparse/{art.key}" in h.store.stats.hits
    with pytest.raises(ConfigError, match="unknown sparse features"):
        h.sparse(task, "bow")
