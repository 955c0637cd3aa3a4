"""Partial fine-tuning (Merchant et al. 2020, Fig. 3; Hart, last two layers): training only the
top few layers recovers most of what full fine-tuning gains over the frozen encoder.

The fixture's [fine_tune] protocol run with only the top k layers (and the head) trainable, for
each k in ``trainable_layers``; test accuracy against full fine-tuning and the frozen encoder.
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "partial_finetuning"


def test_partial_finetuning(fx, harness, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(harness, fx)
    ks = sorted({int(k) for k in params["trainable_layers"]} | {int(params["few"])})
    full, frozen, partial = [], [], {k: [] for k in ks}
    for seed in fx.seeds:
        full.append(evidence.finetuned(harness, fx, seed).meta["accuracy"]["test"])
        frozen.append(evidence.frozen(harness, fx, seed).meta["accuracy"]["test"])
        for k in ks:
            config = replace(fx.fine_tune, trainable_layers=k, snapshot_at=())
            partial[k].append(harness.fine_tuned(fx.encoder, task, config, seed).meta["accuracy"]["test"])
    verdict = judges.partial_finetuning(fx.name, fx.seeds, full, frozen, partial, params)
    verdict = replace(verdict, figures=(figures.accuracy_by_layers(
        f"Test accuracy with only the top k layers trained (seed {fx.seeds[0]})",
        [(k, partial[k][0]) for k in ks], full[0], frozen[0]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
