"""Truncated fine-tuning (Merchant et al. 2020, Fig. 4): a model cut after layer k and fine-tuned
approaches the full model's score by the middle layers.

The fixture's [fine_tune] protocol on the encoder cut after each layer k in ``layers`` (the top
layers dropped: harness.training.protocols.truncate_after), test accuracy against the full model's and
chance (the majority class).
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "truncated_finetuning"


def test_truncated_finetuning(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(pipeline, fx)
    full = [evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds]
    depth = evidence.num_layers(full[0])
    by_layer = params["by_layer"] or max(1, depth // 2)
    ks = sorted(set(params["layers"]) | {by_layer})
    truncated = {k: [] for k in ks}
    for seed in fx.seeds:
        for k in ks:
            config = replace(fx.fine_tune, truncate_layers=k, snapshot_at=())
            truncated[k].append(evidence.predictions(pipeline.fine_tuned(fx.encoder, task, config, seed)).correct)
    correct = [evidence.predictions(art).correct for art in full]  # per test text
    chance = evidence.chance(pipeline, fx)
    verdict = judges.truncated_finetuning(fx.name, fx.seeds, correct, truncated, chance, by_layer, params)
    verdict = replace(verdict, figures=(figures.accuracy_by_layers(
        f"Test accuracy of the encoder cut after layer k, fine-tuned (seed {fx.seeds[0]}; Merchant et al., Fig. 4); "
        "dashed: the full model and chance",
        [(k, float(truncated[k][0].mean())) for k in ks], float(correct[0].mean()), chance, mode="truncated"),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
