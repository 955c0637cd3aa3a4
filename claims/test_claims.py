"""Every claim of the registry (``claims/catalog/``) on every fixture that lists it: gather the
evidence from the fixture's artifacts, judge it, draw its figures, record the verdict; the test
fails when the conclusion is not the one the fixture expects."""

from dataclasses import replace


def test_claim(claim, fx, pipeline, record_verdict):
    params = fx.claim(claim.name)
    found = claim.gather(pipeline, fx)
    verdict = claim.judge(found, params)
    verdict = record_verdict(replace(verdict, figures=claim.draw(found, verdict, params)))
    assert verdict.passed, verdict.text()
