"""Claim 3 (Bogaert et al. 2023, sections 3.3 and 4): a fine-tuned space is low-dimensional.

PCA on the test texts' last-layer first-token vectors: the fine-tuned encoder needs far fewer
components for 95% of the variance than the frozen one (paper: 1 vs more than 200 of 768), and the
encoder fine-tuned on another task falls in between (paper: 37 and 89).
"""

from claims import evidence, judges
from harness.geometry import components_for_variance

CLAIM = "pca_variance"


def test_pca_variance(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    var = params["variance"]
    frozen_x = evidence.test_embeddings(harness, fx, fx.encoder)
    frozen_k = components_for_variance(frozen_x, var)
    ft, fr, cr = [], [], None if fx.other_task is None else []
    for seed in fx.seeds:
        ft.append(components_for_variance(
            evidence.test_embeddings(harness, fx, evidence.finetuned(harness, fx, seed)), var))
        fr.append(frozen_k)  # the frozen encoder does not depend on the seed
        if cr is not None:
            tuned_on_other = harness.fine_tuned(fx.encoder, evidence.other_task(harness, fx),
                                                fx.fine_tune, seed)
            cr.append(components_for_variance(evidence.test_embeddings(harness, fx, tuned_on_other), var))
    verdict = judges.pca_variance(fx.name, fx.seeds, ft, fr, cr, frozen_x.shape[1], params)
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
