"""Across seeds (Hart, "Task-specific training"): is the difference between two protocols'
per-seed test accuracies significant? Hart: frozen vs fully fine-tuned BERT, 10 runs each, Welch
t = -0.91, df = 13, p = 0.38, not significant. Judged on the per-text outcomes, with the test
split's sampling error added to the spread across seeds (claims/judges.py, seed_welch).

Protocols: ``frozen`` (a head on the untouched encoder), ``finetuned`` (the fixture's
[fine_tune]), ``top<k>`` (the same with only the top k layers trainable; Hart's ``top2``).
Run with several seeds (``seeds = [...]`` in the fixture, or ``--seeds N``).
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "seed_welch"


def outcomes(pipeline, fx, protocol: str, seed: int):
    """Per-text test outcomes of a protocol (``frozen``, ``finetuned`` or ``top<k>``, checked when
    the fixture was loaded), from the sealed prediction arrays."""
    if protocol == "frozen":
        art = evidence.frozen(pipeline, fx, seed)
    elif protocol == "finetuned":
        art = evidence.finetuned(pipeline, fx, seed)
    else:
        config = replace(fx.fine_tune, trainable_layers=int(protocol[3:]), snapshot_at=())
        art = pipeline.fine_tuned(fx.encoder, evidence.target_task(pipeline, fx), config, seed)
    return evidence.predictions(art).correct


def test_seed_welch(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    a, b = params["a"], params["b"]
    correct = {p: [outcomes(pipeline, fx, p, seed) for seed in fx.seeds] for p in (a, b)}
    acc = {p: [float(c.mean()) for c in correct[p]] for p in (a, b)}
    verdict = judges.seed_welch(fx.name, fx.seeds, a, b, correct[a], correct[b], evidence.chance(pipeline, fx),
                                params)
    verdict = replace(verdict, figures=(figures.seed_boxes(
        f"Test accuracy per seed ({len(fx.seeds)} seeds)", [(a, acc[a]), (b, acc[b])]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
