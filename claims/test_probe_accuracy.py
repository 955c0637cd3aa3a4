"""Zhou and Srikumar (2022, section 4.1): fine-tuning improves the probe accuracy.

Their MLP probe (harness/analysis/probes.py: hidden sizes and L2 weight grid-searched on validation accuracy,
the best setting trained from several initialisations) on the last layer of the pre-trained and
of the fine-tuned encoder, on the same items: words (POS, PS-role, PS-fxn), head-dependent pairs
(DEP) or, for a text task (TREC-50), each text's first token.
"""

from dataclasses import replace

from claims import evidence, figures, judges
from harness.analysis.stats import majority_share

CLAIM = "probe_accuracy"


def test_probe_accuracy(fx, pipeline, record_verdict):
    params = fx.claim(CLAIM)
    task = evidence.target_task(pipeline, fx)
    pretrained, *tuned = evidence.zhou_probes(
        pipeline, [fx.encoder, *(evidence.finetuned(pipeline, fx, seed) for seed in fx.seeds)], task, params)
    chance = majority_share(task["test"].labels[evidence.probe_rows(task, params["max_items"])["test"]])
    verdict = judges.probe_accuracy(fx.name, fx.seeds, pretrained.test_correct, [t.test_correct for t in tuned],
                                    chance, params, restarts={"pre-trained": [pretrained.test_accuracy],
                                                              "fine-tuned": [t.test_accuracy for t in tuned]},
                                    clusters=evidence.probe_sentences(task, params))
    paper = verdict.paper
    verdict = replace(verdict, details={**verdict.details, "probe setting (pre-trained, fine-tuned seed "
                                        f"{fx.seeds[0]})": [f"{pretrained.hidden} L2 {pretrained.alpha:g}",
                                                            f"{tuned[0].hidden} L2 {tuned[0].alpha:g}"]},
                      figures=(figures.accuracy_bars(
                          f"Probe accuracy on {task.name}, mean of {len(pretrained.test_accuracy)} initialisations "
                          "(Zhou and Srikumar, Table 2)",
                          [("pre-trained", pretrained.mean, None, paper.get("pretrained_accuracy")),
                           (f"fine-tuned (seed {fx.seeds[0]})", tuned[0].mean, None,
                            paper.get("finetuned_accuracy"))]),))
    record_verdict(verdict)
    assert verdict.passed, verdict.text()
