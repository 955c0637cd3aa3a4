"""Claim 3 (Bogaert et al. 2023, sections 3.3 and 4): a fine-tuned space is low-dimensional.

PCA on the test texts' last-layer first-token vectors: the fine-tuned encoder needs far fewer
components for 95% of the variance than the frozen one (paper: 1 vs more than 200 of 768), and the
encoder fine-tuned on another task falls in between (paper: 37 and 89). Each count comes with its
jackknife replicates over the test texts (the same groups for every space), which the judge
tests.
"""

from dataclasses import replace

from claims import evidence, figures, judges
from harness.analysis.geometry import component_count
from harness.analysis.stats import jackknife_keep

CLAIM = "pca_variance"


def test_pca_variance(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    var = params["variance"]
    frozen_x = evidence.last_layer_test_vectors(pipeline, fx, fx.encoder)
    keep = jackknife_keep(len(frozen_x))  # the same groups of test texts for every space
    frozen_k = component_count(frozen_x, var, keep)
    # The cross-task space (an encoder fine-tuned on [other_task]) only where a claim asks for it:
    # a fixture may name another task for other claims (out-of-domain texts, distances).
    wants_cross = params["cross_task_between"] or "cross_task" in fx.claims
    ft, fr, cr = [], [], [] if fx.other_task is not None and wants_cross else None
    curves = [("frozen", frozen_k.in_sample)]
    for seed in fx.seeds:
        x = evidence.last_layer_test_vectors(pipeline, fx, evidence.finetuned(pipeline, fx, seed))
        ft.append(component_count(x, var, keep))
        fr.append(frozen_k)  # the frozen encoder does not depend on the seed
        if seed == fx.seeds[0]:
            curves.append(("fine-tuned", ft[-1].in_sample))
        if cr is not None:
            tuned_on_other = pipeline.fine_tuned(fx.encoder, evidence.other_task(pipeline, fx),
                                                fx.fine_tune, seed)
            x = evidence.last_layer_test_vectors(pipeline, fx, tuned_on_other)
            cr.append(component_count(x, var, keep))
            if seed == fx.seeds[0]:
                curves.append(("cross-task", cr[-1].in_sample))
    correct = [evidence.predictions(evidence.finetuned(pipeline, fx, seed)).correct for seed in fx.seeds]
    verdict = judges.pca_variance(fx.name, fx.seeds, ft, fr, cr, frozen_x.shape[1], frozen_x.shape[0], correct,
                                  evidence.chance(pipeline, fx), params)
    verdict = replace(verdict, figures=(
        figures.pca_curves(f"Cumulative explained variance, test set (seed {fx.seeds[0]})", var, curves),
        embedding_maps(pipeline, fx, fx.seeds[0]),
    ))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()


def embedding_maps(pipeline, fx, seed):
    """t-SNE maps of the frozen and the fine-tuned test embeddings, with each model's predictions
    (Bogaert et al. draw these beside the PCA counts)."""
    task, length = evidence.target_task(pipeline, fx), fx.fine_tune.max_length
    tuned = evidence.finetuned(pipeline, fx, seed)
    panels = [
        ("frozen", pipeline.map2d(fx.encoder, task, "test", seed=seed, max_length=length),
         evidence.frozen(pipeline, fx, seed)),
        ("fine-tuned", pipeline.map2d(tuned, task, "test", seed=seed, max_length=length), tuned),
    ]
    return figures.embedding_maps(f"t-SNE of the test embeddings (seed {seed})",
                                  [(name, figures.ref(m), figures.ref(p)) for name, m, p in panels])
