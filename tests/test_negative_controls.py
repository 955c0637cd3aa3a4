"""Negative controls: each claim must fail when its premise is broken.

Half of them feed a judge broken evidence directly; the others break the premise in the real
pipeline (an encoder "fine-tuned" at a learning rate too small to move it, a cross-task encoder
that is the same-task one) on the tiny offline encoder.
"""

from __future__ import annotations

import numpy as np
import pytest

from claims import judges
from claims.fixture import CLAIM_PARAMS
from harness.build import Harness, Predictions
from harness.encoders import EncoderSpec
from harness.geometry import components_for_variance
from harness.heads import HeadConfig
from harness.protocols import FineTuneConfig
from harness.store import ArtifactStore
from harness.synthetic import generate_task

TINY = EncoderSpec("offline:minilm-l2")


def params(claim: str, **overrides):
    return {**CLAIM_PARAMS[claim], **overrides}


# ---- claim 1: no overfitting ----------------------------------------------------------------


def test_claim1_passes_on_a_clean_split():
    acc = [judges.SplitAccuracy(0.97, 0.95)]
    verdict = judges.no_overfitting("f", [0], acc, acc, 0.0, params("no_overfitting"))
    assert verdict.passed


def test_claim1_catches_a_model_scored_on_its_own_training_set():
    """Test texts == train texts: train and test accuracy agree perfectly, yet nothing was tested."""
    task = generate_task("sentiment", n_train=100, n_test=100, seed=0)
    overlap = judges.text_overlap(task["train"].texts, task["train"].texts)
    assert overlap == 1.0
    acc = [judges.SplitAccuracy(0.99, 0.99)]
    verdict = judges.no_overfitting("f", [0], acc, acc, overlap, params("no_overfitting"))
    assert not verdict.passed
    assert "does not measure generalisation" in verdict.text()


def test_claim1_fails_on_a_real_gap_on_any_seed():
    ok, bad = judges.SplitAccuracy(0.95, 0.94), judges.SplitAccuracy(1.0, 0.80)
    verdict = judges.no_overfitting("f", [0, 1], [ok, bad], [ok, ok], 0.0, params("no_overfitting"))
    assert not verdict.passed
    assert verdict.measured["finetuned_gap"]["per_seed"] == pytest.approx([0.01, 0.2])


# ---- claim 2: accuracy gap ------------------------------------------------------------------


def outcomes(n: int, acc: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(n) < acc


def test_claim2_identical_models_are_not_significantly_different():
    same = outcomes(1000, 0.9, 0)
    expect_better = judges.accuracy_gap("f", [0], [same], [same], params("accuracy_gap", expect="finetuned_better"))
    assert not expect_better.passed and expect_better.measured["outcome"] == "not_significant"
    expect_none = judges.accuracy_gap("f", [0], [same], [same], params("accuracy_gap", expect="not_significant"))
    assert expect_none.passed


def test_claim2_direction_matters():
    ft, fr = outcomes(2000, 0.97, 1), outcomes(2000, 0.90, 2)
    right = judges.accuracy_gap("f", [0], [ft], [fr], params("accuracy_gap", expect="finetuned_better"))
    wrong = judges.accuracy_gap("f", [0], [ft], [fr], params("accuracy_gap", expect="frozen_better"))
    assert right.passed and not wrong.passed
    assert right.measured["p_mcnemar"] < 1e-6
    assert {"p_paper_z", "p_pooled_z"} <= set(right.measured)


# ---- claims 3 and 5 through the real pipeline ----------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    h = Harness(ArtifactStore(tmp_path_factory.mktemp("store")), device="cpu")
    task = generate_task("sentiment", n_train=160, n_validation=16, n_test=120, seed=0)
    return h, task


def pcs(h, model, task, max_length):
    x = h.embedding_matrix(model, task, "test", max_length=max_length)
    return components_for_variance(x, 0.95), x.shape[1]


def test_claim3_an_encoder_that_was_never_trained_fails(pipeline):
    h, task = pipeline
    untrained = FineTuneConfig(epochs=1, lr=1e-12, batch_size=16, max_length=24, head_dropout=0.0)
    art = h.fine_tuned(TINY, task, untrained, seed=0)
    k_ft, dim = pcs(h, art, task, 24)
    k_frozen, _ = pcs(h, TINY, task, 24)
    verdict = judges.pca_variance("f", [0], [k_ft], [k_frozen], None, dim, params("pca_variance"))
    assert k_ft == k_frozen
    assert not verdict.passed


def test_claim3_a_trained_encoder_passes(pipeline):
    h, task = pipeline
    trained = FineTuneConfig(epochs=5, lr=3e-4, batch_size=16, max_length=24)
    k_ft, dim = pcs(h, h.fine_tuned(TINY, task, trained, seed=0), task, 24)
    k_frozen, _ = pcs(h, TINY, task, 24)
    assert judges.pca_variance("f", [0], [k_ft], [k_frozen], None, dim, params("pca_variance")).passed


def test_claim5_a_cross_task_encoder_identical_to_the_same_task_one_fails(pipeline):
    """'Cross-task' with task B = task A: nothing is lost, and the claim must say so."""
    h, task = pipeline
    config = FineTuneConfig(epochs=3, lr=2e-4, batch_size=16, max_length=24)
    same = Predictions.of(h.fine_tuned(TINY, task, config, seed=0), "test")
    cross = Predictions.of(h.cross_task(TINY, task, task, config, HeadConfig(), seed=0), "test")
    frozen = h.frozen(TINY, task, HeadConfig(), seed=0, max_length=24).meta["accuracy"]["test"]
    verdict = judges.cross_task("f", [0], [same.correct], [cross.correct], [frozen],
                                params("cross_task", expect="lower", alpha=0.01))
    assert not verdict.passed, verdict.text()
    assert verdict.measured["outcome"] != "lower"


def test_claim5_a_real_drop_passes():
    same, cross = outcomes(500, 0.95, 3), outcomes(500, 0.6, 4)
    verdict = judges.cross_task("f", [0], [same], [cross], [0.9], params("cross_task", expect="lower"))
    assert verdict.passed and verdict.measured["frozen_accuracy"] == 0.9


# ---- claim 4: label clusters move apart -----------------------------------------------------


def snap(step, clusters, *dist):
    return judges.Snapshot(step, clusters, tuple(dist))


def test_claim4_passes_when_every_label_moves_away():
    traj = [[snap(0, 2, 0.3, 0.3), snap(10, 2, 1.5, 1.5)]]
    verdict = judges.label_distances("f", [0], ["neg", "pos"], traj, None, params("label_distances"))
    assert verdict.passed


@pytest.mark.parametrize(
    ("trajectory", "similarity"),
    [
        ([snap(0, 2, 0.3, 0.3), snap(10, 2, 0.2, 0.2)], None),  # distances shrink
        ([snap(0, 2, 0.3, 0.3), snap(10, 2, 0.3, 0.3)], None),  # an encoder that never moved
        ([snap(0, 2, 0.3, 0.3), snap(10, 4, 0.9, 0.9)], None),  # clusters grow
        ([snap(0, 2, 0.3, 0.3), snap(10, 2, 0.9, 0.9)], [(0.80, 0.95)]),  # train/test similarity rises
    ],
)
def test_claim4_fails_when_its_premise_is_broken(trajectory, similarity):
    verdict = judges.label_distances("f", [0], ["neg", "pos"], [trajectory], similarity,
                                     params("label_distances"))
    assert not verdict.passed, verdict.text()


def test_claim4_an_encoder_that_was_never_trained_fails(pipeline):
    """Real pipeline: snapshots of a fine-tuning run at a learning rate too small to move anything."""
    from harness import directprobe

    h, task = pipeline
    frozen_run = FineTuneConfig(epochs=1, lr=1e-12, batch_size=16, max_length=24, snapshot_at=(0, 1))
    art = h.fine_tuned(TINY, task, frozen_run, seed=0)
    y = task["test"].labels
    traj = []
    for step in art.meta["snapshot_steps"]:
        x = art.array(f"snapshots/step_{step:06d}_layer_2")
        clusters = directprobe.cluster(x, y)
        dist = directprobe.label_distances(x, y, clusters).min_per_label()
        traj.append(judges.Snapshot(step, clusters.num_clusters, tuple(dist)))
    verdict = judges.label_distances("f", [0], task.label_names, [traj], None, params("label_distances"))
    assert not verdict.passed, verdict.text()


# ---- claim 5, geometric part: another task's fine-tuning moves the target clusters ----------


def test_claim5_distances_pass_when_every_label_comes_closer():
    verdict = judges.cross_task_distances("f", [0], ["a", "b", "c"], [[1.0, 2.0, 1.5]], [[0.5, 1.0, 1.2]],
                                          params("cross_task_distances", all_labels=True))
    assert verdict.passed and verdict.measured["mean_change"] == pytest.approx(-0.6)


@pytest.mark.parametrize(
    ("before", "after", "overrides"),
    [
        ([1.0, 2.0], [1.0, 2.0], {"expect": "lower"}),  # nothing moved
        ([1.0, 2.0], [1.0, 2.0], {"expect": "higher"}),
        ([1.0, 2.0], [1.5, 2.5], {"expect": "lower"}),  # the wrong way
        ([1.0, 2.0], [0.2, 2.1], {"expect": "lower", "all_labels": True}),  # mean falls, one rises
    ],
)
def test_claim5_distances_fail_when_the_premise_is_broken(before, after, overrides):
    verdict = judges.cross_task_distances("f", [0], ["a", "b"], [before], [after],
                                          params("cross_task_distances", **overrides))
    assert not verdict.passed, verdict.text()


def test_claim5_distances_a_space_that_only_grew_moves_nothing_when_scaled():
    """Every distance x 1.5 because every vector is 1.5 x longer: raw says 'higher', scaled says no."""
    before, after, norms = [1.0, 2.0], [1.5, 3.0], [(4.0, 6.0)]
    raw = judges.cross_task_distances("f", [0], ["a", "b"], [before], [after],
                                      params("cross_task_distances", expect="higher"), norms)
    scaled = judges.cross_task_distances("f", [0], ["a", "b"], [before], [after],
                                         params("cross_task_distances", expect="higher", scale="mean_norm"), norms)
    assert raw.passed and not scaled.passed, scaled.text()


def test_claim5_distances_an_encoder_that_was_never_trained_fails(pipeline):
    """Real pipeline: the other task's 'fine-tuning' at a learning rate too small to move anything."""
    from harness import directprobe

    h, task = pipeline
    other = generate_task("topic", n_train=160, n_validation=16, n_test=40, seed=1)
    untrained = FineTuneConfig(epochs=1, lr=1e-12, batch_size=16, max_length=24, head_dropout=0.0)
    y = task["test"].labels
    dist = [directprobe.label_distances(h.embedding_matrix(m, task, "test", max_length=24), y).min_per_label()
            for m in (TINY, h.fine_tuned(TINY, other, untrained, seed=0))]
    for expect in ("lower", "higher"):
        verdict = judges.cross_task_distances("f", [0], task.label_names, [dist[0]], [dist[1]],
                                              params("cross_task_distances", expect=expect))
        assert not verdict.passed, verdict.text()


# ---- layer-wise change ------------------------------------------------------------------------


def layer_verdict(cka, **overrides):
    return judges.layer_change("f", [0], list(range(len(cka))), {"cka": [cka], "rsa": [cka]},
                               params("layer_change", **overrides))


def test_layer_change_passes_when_the_top_layers_change_most():
    assert layer_verdict([1.0, 0.99, 0.9, 0.7, 0.5]).passed
    assert layer_verdict([1.0, 0.99, 0.9, 0.7, 0.6], min_similarity=0.5).passed


@pytest.mark.parametrize(
    ("cka", "overrides"),
    [
        ([1.0, 1.0, 1.0, 1.0], {}),  # nothing changed
        ([0.5, 0.7, 0.9, 1.0], {}),  # the bottom changed most
        ([1.0, 0.6, 0.9, 0.98], {}),  # the last layer barely moved
        ([1.0, 0.9, 0.7, 0.4], {"min_similarity": 0.5}),  # Zhou and Srikumar's floor broken
    ],
)
def test_layer_change_fails_when_the_premise_is_broken(cka, overrides):
    verdict = layer_verdict(cka, **overrides)
    assert not verdict.passed, verdict.text()


def test_layer_change_an_encoder_that_was_never_trained_fails(pipeline):
    from harness.similarity import linear_cka

    h, task = pipeline
    untrained = FineTuneConfig(epochs=1, lr=1e-12, batch_size=16, max_length=24, head_dropout=0.0)
    tuned = h.fine_tuned(TINY, task, untrained, seed=0)
    reps = [h.embeddings(m, task, "test", layers=[0, 1, 2], pooling="mean", max_length=24) for m in (TINY, tuned)]
    cka = [linear_cka(reps[0].array(f"layer_{k}"), reps[1].array(f"layer_{k}")) for k in (0, 1, 2)]
    assert min(cka) > 0.999
    assert not layer_verdict(cka).passed


# ---- partial fine-tuning ------------------------------------------------------------------------


def partial_verdict(full, frozen, few_acc, **overrides):
    return judges.partial_finetuning("f", [0], [full], [frozen], {2: [few_acc]},
                                     params("partial_finetuning", **overrides))


def test_partial_finetuning_passes_when_the_top_layers_recover_the_gain():
    verdict = partial_verdict(0.95, 0.85, 0.945)
    assert verdict.passed and verdict.measured["recovery_top_2"] == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("full", "frozen", "few_acc", "overrides"),
    [
        (0.95, 0.85, 0.86, {}),  # the top layers alone recover almost nothing
        (0.95, 0.949, 0.95, {}),  # full fine-tuning gained nothing: nothing to recover
        (0.95, 0.85, 0.95, {"expect": "does_not_recover"}),  # declared not to hold, yet it does
    ],
)
def test_partial_finetuning_fails_when_the_premise_is_broken(full, frozen, few_acc, overrides):
    verdict = partial_verdict(full, frozen, few_acc, **overrides)
    assert not verdict.passed, verdict.text()


# ---- across seeds (Hart): Welch's t-test ---------------------------------------------------------


def welch_verdict(a, b, **overrides):
    return judges.seed_welch("f", list(range(len(a))), "frozen", "finetuned", a, b,
                             params("seed_welch", **overrides))


def test_seed_welch_matches_scipy_and_passes_on_overlapping_runs():
    from scipy.stats import ttest_ind

    a, b = [0.90, 0.92, 0.91, 0.93, 0.89], [0.91, 0.93, 0.90, 0.94, 0.92]
    verdict = welch_verdict(a, b)
    assert verdict.passed
    assert verdict.measured["p_welch"] == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue)


@pytest.mark.parametrize(
    ("a", "b", "overrides"),
    [
        ([0.80, 0.81, 0.79, 0.80], [0.95, 0.96, 0.94, 0.95], {}),  # a real gap, declared not significant
        ([0.90, 0.92, 0.91], [0.91, 0.93, 0.90], {"expect": "b_better"}),  # no gap, declared one
        ([0.90, 0.92], [0.91, 0.93], {}),  # too few seeds to say anything
        ([0.9, 0.9, 0.9], [0.95, 0.95, 0.95], {}),  # no spread, different means: not "not significant"
    ],
)
def test_seed_welch_fails_when_the_premise_is_broken(a, b, overrides):
    verdict = welch_verdict(a, b, **overrides)
    assert not verdict.passed, verdict.text()


# ---- sparse baselines (Hart) -----------------------------------------------------------------


def sparse_verdict(ft, sp, **overrides):
    cv = [{"tfidf": {"accuracy": 0.8, "accuracy_sd": 0.02, "f1_macro": 0.79, "test_accuracy": float(sp.mean())}}]
    return judges.sparse_baselines("f", [0], [ft], [sp], ["tfidf"], cv, params("sparse_baselines", **overrides))


def test_sparse_baselines_pass_when_fine_tuning_wins_and_fail_otherwise():
    ft, sp = outcomes(600, 0.93, 0), outcomes(600, 0.80, 1)
    won = sparse_verdict(ft, sp)
    assert won.passed and won.measured["outcome"] == "finetuned_better"
    assert won.measured["best_sparse"] == "tfidf" and won.measured["cv_accuracy_tfidf"] == 0.8
    assert not sparse_verdict(ft, sp, expect="sparse_better").passed
    assert not sparse_verdict(sp, ft).passed  # the baseline wins: "fine-tuning beats it" fails
    assert sparse_verdict(sp, ft, expect="sparse_better").passed


def test_sparse_baselines_fail_when_the_fine_tuned_model_is_the_baseline_itself():
    """The premise broken in the pipeline: the "fine-tuned" predictions are the baseline's own
    (what a wiring mistake would produce). Identical answers cannot be significantly better."""
    from harness.sparse import fit_sparse

    task = generate_task("sentiment", n_train=120, n_test=200, signal=0.7, seed=2)
    model = fit_sparse(task["train"].texts, task["train"].labels, "tfidf")
    correct = model.predict(list(task["test"].texts)) == task["test"].labels
    verdict = sparse_verdict(correct, correct)
    assert verdict.measured["outcome"] == "not_significant" and not verdict.passed


# ---- in-domain vs out-of-domain (Merchant et al.) ------------------------------------------


def test_domain_shift_passes_when_in_domain_texts_change_more_and_fails_otherwise():
    layers = [0, 1, 2, 3]
    moved = {"cka": [[1.0, 0.9, 0.5, 0.4]], "rsa": [[1.0, 0.9, 0.6, 0.5]]}
    still = {"cka": [[1.0, 0.98, 0.9, 0.85]], "rsa": [[1.0, 0.97, 0.9, 0.8]]}
    ok = judges.domain_shift("f", [0], layers, moved, still, params("domain_shift"))
    assert ok.passed and ok.measured["gap"] == pytest.approx((0.9 + 0.85) / 2 - (0.5 + 0.4) / 2)
    assert not judges.domain_shift("f", [0], layers, still, moved, params("domain_shift")).passed
    # the gap must exceed min_gap on the measure the fixture names
    assert not judges.domain_shift("f", [0], layers, moved, still, params("domain_shift", min_gap=0.5)).passed
    with pytest.raises(ValueError, match="top_layers must be in 1..4"):
        judges.domain_shift("f", [0], layers, moved, still, params("domain_shift", top_layers=5))


def test_domain_shift_fails_when_the_out_of_domain_texts_are_the_in_domain_ones():
    """The premise broken: "out-of-domain" texts that are the task's own. Real encoders: the
    pre-trained offline MiniLM-L2 against a copy of it fine-tuned on generated sentiment."""
    from harness.encoders import encode, load_encoder
    from harness.protocols import fine_tune
    from harness.similarity import linear_cka

    task = generate_task("sentiment", n_train=64, n_test=48, signal=1.0, seed=4)
    base, tuned = load_encoder(TINY), load_encoder(TINY)
    fine_tune(tuned, task, FineTuneConfig(epochs=2, lr=3e-4, batch_size=8, max_length=24), seed=0)
    texts = list(task["test"].texts)
    reps = [encode(e.model, e.tokenizer, texts, layers=(0, 1, 2), pooling="mean", max_length=24)
            for e in (base, tuned)]
    sims = {"cka": [[linear_cka(reps[0][k], reps[1][k]) for k in (0, 1, 2)]]}
    sims["rsa"] = sims["cka"]
    verdict = judges.domain_shift("f", [0], [0, 1, 2], sims, sims, params("domain_shift"))
    assert sims["cka"][0][-1] < 0.999  # fine-tuning did move the top layer
    assert verdict.measured["gap"] == 0.0 and not verdict.passed


# ---- discriminant words (Bogaert et al. 3.2) ---------------------------------------------------


def test_discriminant_words_need_more_related_words_on_the_fine_tuned_side():
    ft, fr = [("awful", 3.0), ("great", 2.0)], [("hotel", -2.0), ("the", -1.0)]
    mi = {"awful": 0.05, "great": 0.04, "hotel": 0.0, "the": 0.001}
    ok = judges.discriminant_words("f", [0], [ft], [fr], [mi], params("discriminant_words"))
    assert ok.passed and ok.measured["finetuned_top10_mutual_information"] == pytest.approx(0.045)
    swapped = judges.discriminant_words("f", [0], [fr], [ft], [mi], params("discriminant_words"))
    assert not swapped.passed
    # the same words on both sides (both models read the same cues): no margin, no pass
    same = judges.discriminant_words("f", [0], [ft], [ft], [mi], params("discriminant_words"))
    assert not same.passed
    empty = judges.discriminant_words("f", [0], [[]], [fr], [mi], params("discriminant_words"))
    assert not empty.passed and "no word was seen" in empty.details["notes"][0]
