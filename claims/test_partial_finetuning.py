"""Partial fine-tuning (Merchant et al. 2020, Fig. 3; Hart, last two layers): training only the
top few layers recovers most of what full fine-tuning gains over the frozen encoder.

The fixture's [fine_tune] protocol run with only the top k layers (and the head) trainable, for
each k in ``trainable_layers``; test accuracy against full fine-tuning and the frozen encoder.
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "partial_finetuning"


def test_partial_finetuning(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(pipeline, fx)
    ks = sorted(set(params["trainable_layers"]) | {params["few"]})
    full, frozen, partial = [], [], {k: [] for k in ks}

    def correct(art):  # per test text, from the sealed prediction arrays, not from the manifest's summary
        return evidence.predictions(art).correct

    for seed in fx.seeds:
        full.append(correct(evidence.finetuned(pipeline, fx, seed)))
        frozen.append(correct(evidence.frozen(pipeline, fx, seed)))
        for k in ks:
            config = replace(fx.fine_tune, trainable_layers=k, snapshot_at=())
            partial[k].append(correct(pipeline.fine_tuned(fx.encoder, task, config, seed)))
    verdict = judges.partial_finetuning(fx.name, fx.seeds, full, frozen, partial, params)
    verdict = replace(verdict, figures=(figures.accuracy_by_layers(
        f"Test accuracy with only the top k layers trained (seed {fx.seeds[0]})",
        [(k, float(partial[k][0].mean())) for k in ks], float(full[0].mean()), float(frozen[0].mean())),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
