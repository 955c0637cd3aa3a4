"""The claim modules (claims/catalog/) are the one place a claim is declared: the docs' tables, the registry,
the fixtures and the verdicts all agree with them."""

from __future__ import annotations

import dataclasses
import importlib
import math
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.fixture import load_fixtures
from claims.registry import CLAIMS, GENERATED, PARTS, REGISTRY, claim_of, generated
from claims.spec import Param
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_the_docs_tables_are_the_specs(path):
    text = (ROOT / path).read_text(encoding="utf-8")
    assert generated(text, path) == text, f"{path}'s claim tables are stale: run `python -m claims.registry --write`"


def test_a_stale_table_is_caught():
    text = (ROOT / "docs/claims.md").read_text(encoding="utf-8")
    stale = text.replace("| `no_overfitting` | `tolerance` | `0.05` |", "| `no_overfitting` | `tolerance` | `0.06` |")
    assert stale != text
    assert generated(stale, "docs/claims.md") == text
    with pytest.raises(ConfigError, match="no generated part"):
        generated("# a page without markers\n", "docs/claims.md")


def test_every_module_of_the_catalog_is_a_registered_claim():
    modules = {path.stem for path in (ROOT / "claims" / "catalog").glob("[!_]*.py")}
    assert modules == set(REGISTRY) == set(CLAIMS)
    for name, claim in REGISTRY.items():
        assert claim.module == f"claims.catalog.{name}" and claim.spec is CLAIMS[name]
        evidence = {f.name for f in dataclasses.fields(claim.evidence)}
        assert {"fixture", "seeds"} <= evidence and len(evidence) > 2, name  # named fields, beyond the base


def _module(name: str, **parts) -> types.ModuleType:
    module = types.ModuleType(f"claims.catalog.{name}")
    module.__dict__.update(parts)
    return module


def test_a_claim_module_that_lacks_a_part_or_misnames_its_spec_is_refused():
    whole = vars(importlib.import_module("claims.catalog.accuracy_gap"))
    parts = {part: whole[part] for part in PARTS}
    assert claim_of(_module("accuracy_gap", **parts)).name == "accuracy_gap"
    with pytest.raises(TypeError, match=r"claims\.catalog\.accuracy_gap: .*missing: judge"):
        claim_of(_module("accuracy_gap", **{k: v for k, v in parts.items() if k != "judge"}))
    with pytest.raises(TypeError, match="SPEC must be a ClaimSpec named 'gap'"):
        claim_of(_module("gap", **parts))
    with pytest.raises(TypeError, match="Evidence must be a dataclass subclassing claims.judges.Evidence"):
        claim_of(_module("accuracy_gap", **parts | {"Evidence": dict}))


def test_evidence_is_built_by_name_only():
    """Swapping the fine-tuned and the frozen outcomes cannot pass silently: no field is positional."""
    from claims.catalog import accuracy_gap

    with pytest.raises(TypeError):
        accuracy_gap.Evidence("f", (0,), [np.ones(3, bool)], [np.zeros(3, bool)], 0.5)
    ev = accuracy_gap.Evidence(fixture="f", seeds=[0], finetuned=[np.ones(3, bool)], frozen=[np.zeros(3, bool)],
                               chance=0.5)
    assert ev.seeds == (0,)


def test_every_claim_has_negative_controls():
    """Each claim's judge is fed broken evidence in tests/test_negative_controls.py (a new claim
    without its controls fails here)."""
    controls = (ROOT / "tests" / "test_negative_controls.py").read_text(encoding="utf-8")
    missing = [name for name in REGISTRY if f"{name}.judge(" not in controls and f"{name}.Evidence(" not in controls]
    assert not missing, f"claims with no negative control: {missing}"


def test_every_claim_runs_in_a_smoke_fixture():
    smoke = [fx for fx in load_fixtures([ROOT / "fixtures"]) if fx.profile == "smoke"]
    covered = {claim for fx in smoke for claim in fx.claims}
    assert covered == set(CLAIMS), f"claims with no smoke fixture: {sorted(set(CLAIMS) - covered)}"


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_every_spec_is_complete_and_its_defaults_are_valid(name):
    spec = CLAIMS[name]
    assert spec.source and spec.sentence and spec.decides and spec.figures and spec.controls
    required = {"no_forgetting": {"corpus": "pud.conllu"}}.get(name, {})  # no default can name the user's file
    params = spec.validate(required, "f.toml", has_other_task=True, snapshots=3)
    assert params == {p.name: p.check(p.default, "f.toml") for p in spec.all_params if not p.required} | required
    assert {p.name for p in spec.all_params if p.required} == set(required)
    if isinstance(spec.sentence, dict):  # one sentence for each setting the paper reports
        assert set(spec.sentence) == set(next(p for p in spec.params if p.name == "paper_says").choices)
    assert spec.statement(params)["source"] == spec.source


number_params = st.sampled_from([p for s in CLAIMS.values() for p in s.params if p.kind in ("float", "int")])


def _in_range(p: Param, x: float) -> bool:
    """The bounds, read from the spec's own fields (not through the constraint under test)."""
    above = p.low is None or (x > p.low if p.low_open else x >= p.low)
    return above and (p.high is None or (x < p.high if p.high_open else x <= p.high))


@given(param=number_params, value=st.one_of(st.booleans(), st.text(max_size=5), st.none(),
                                            st.floats(allow_nan=True, allow_infinity=True)))
def test_numbers_refuse_bools_strings_and_non_finite_values(param: Param, value):
    ok = (isinstance(value, float) and math.isfinite(value) and param.kind == "float"
          and _in_range(param, value)) or (value is None and param.optional)
    if ok:
        assert param.check(value, "f.toml: [claims.x]") == value
    else:
        with pytest.raises(ConfigError) as info:
            param.check(value, "f.toml: [claims.x]")
        message = str(info.value)
        assert message.startswith(f"f.toml: [claims.x] {param.name} = {value!r}: must be ")
        assert param.allowed() in message


@given(param=number_params, value=st.integers(-10, 10))
def test_numbers_in_range_are_kept(param: Param, value):
    if _in_range(param, value):
        checked = param.check(value, "w")
        assert checked == value and type(checked) is (float if param.kind == "float" else int)
    else:
        with pytest.raises(ConfigError, match="must be"):
            param.check(value, "w")


def test_every_claim_names_its_headline_numbers():
    """The report's first table shows each verdict's headline: one or two measured keys."""
    assert {name for name, s in CLAIMS.items() if not 1 <= len(s.headline) <= 2} == set()
    s = CLAIMS["truncated_finetuning"]
    measured = {"full_accuracy": 1, "chance": 1, "cut_after_3_accuracy": 1, "recovery_cut_after_3": 1}
    assert s.headline_keys(measured) == ("recovery_cut_after_3", "full_accuracy")
    assert CLAIMS["layer_change"].headline_keys({"cka_first_layer": 1, "drop": 1, "cka_last_layer": 1}) == (
        "cka_first_layer", "cka_last_layer")
