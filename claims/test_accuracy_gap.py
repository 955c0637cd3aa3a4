"""Claim 2 (Bogaert et al. 2023, section 3.1): is the fine-tuned vs frozen gap significant?

Both models are scored on the same test texts, so the verdict uses paired tests: one-sided
McNemar where the paper found a model better, equivalence (TOST) where it found no difference;
the paper's own z formula and the textbook pooled z test are reported beside (harness/analysis/stats.py).
Bogaert et al.: Allocine significant (p << 0.01), InfOpinion not (p = 0.34 with their formula).
"""

from dataclasses import replace

from claims import evidence, figures, judges

CLAIM = "accuracy_gap"


def test_accuracy_gap(fx, pipeline, record_verdict):
    ft, fr = [], []
    for seed in fx.seeds:
        ft.append(evidence.predictions(evidence.finetuned(pipeline, fx, seed)).correct)
        fr.append(evidence.predictions(evidence.frozen(pipeline, fx, seed)).correct)
    verdict = judges.accuracy_gap(fx.name, fx.seeds, ft, fr, evidence.chance(pipeline, fx), fx.claim(CLAIM))
    ci, paper = verdict.intervals, verdict.paper
    verdict = replace(verdict, figures=(figures.accuracy_bars(
        f"Test accuracy, fine-tuned vs frozen (seed {fx.seeds[0]})",
        [(name, float(c[0].mean()), ci[f"{name}_accuracy"][0] if len(c) == 1 else None,
          paper.get(f"{name}_accuracy")) for name, c in (("finetuned", ft), ("frozen", fr))]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
