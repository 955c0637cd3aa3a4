"""The one vocabulary of what a setting allows (harness/constraints.py), and the tables that use it."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.constraints import (
    AnyOf,
    Boolean,
    Interval,
    ListOf,
    Options,
    OrNone,
    Table,
    Text,
    check,
    check_fields,
    check_table,
)
from harness.data import synthetic
from harness.data.hubdata import load_hub
from harness.data.local import load_local
from harness.data.tasks import COMMON_KEYS, SOURCES, TaskSpec
from harness.errors import ConfigError
from harness.models.encoders import ENCODER, EncoderSpec
from harness.models.heads import FROZEN_HEAD, HeadConfig
from harness.training.protocols import FINE_TUNE, FineTuneConfig

CLOSED = ("both", "left", "right", "neither")


def _inside(x: float, low, high, closed: str) -> bool:
    """The bounds, written out (the reference the constraint is checked against)."""
    left_ok = low is None or (x >= low if closed in ("both", "left") else x > low)
    return left_ok and (high is None or (x <= high if closed in ("both", "right") else x < high))


@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.booleans(),
                       st.text(max_size=3), st.none()),
       low=st.one_of(st.none(), st.integers(-3, 0)), high=st.one_of(st.none(), st.integers(1, 3)),
       closed=st.sampled_from(CLOSED), kind=st.sampled_from([int, float]))
def test_an_interval_allows_exactly_the_numbers_within_its_bounds(value, low, high, closed, kind):
    c = Interval(kind, low, high, closed)
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    expected = number and (kind is float or isinstance(value, int)) and _inside(value, low, high, closed)
    assert c.allows(value) == expected
    if expected:
        assert type(check(value, c, "f.toml: [t]", "k")) is kind
    else:
        with pytest.raises(ConfigError) as info:
            check(value, c, "f.toml: [t]", "k")
        assert str(info.value) == f"f.toml: [t] k = {value!r}: must be {c}"


def test_each_constraint_says_what_it_allows():
    assert str(Interval(float, 0, 0.5, "neither")) == "a number in (0, 0.5)"
    assert str(Interval(int, 1)) == "an integer >= 1"
    assert str(Interval(float, 0, closed="right")) == "a number > 0"
    assert str(ListOf(Interval(int, 1), nonempty=True)) == "a list of integers >= 1"
    assert str(ListOf(Options(("a", "b")))) == "a list of one of ['a', 'b']"
    assert str(OrNone(Interval(int, 0))) == "an integer >= 0 (or left out)"
    assert str(AnyOf((Text(nonempty=True), Table()))) == "a non-empty string or a table"
    assert str(Boolean()) == "true or false" and str(Text("a+")) == "a string matching 'a+'"
    assert ListOf(Interval(float), as_tuple=True).convert([1, 2]) == (1.0, 2.0)
    assert not ListOf(Text(), nonempty=True).allows([]) and ListOf(Text()).allows([])
    assert Interval(int, 0).allows(np.int64(3)) and not Interval(int, 0).allows(np.float64(3.0))


def test_a_table_with_an_unknown_key_or_a_bad_value_is_refused_by_name():
    rules = {"epochs": Interval(int, 1), "kind": Options(("a", "b"))}
    assert check_table({"epochs": 2}, rules, "f.toml: [t]") == {"epochs": 2}
    with pytest.raises(ConfigError, match=r"^f.toml: \[t\]: unknown key\(s\) \['epoch'\]; allowed: \['epochs', 'kind'\]$"):
        check_table({"epoch": 2}, rules, "f.toml: [t]")
    with pytest.raises(ConfigError, match=r"^f.toml: \[t\] kind = 'c': must be one of \['a', 'b'\]$"):
        check_table({"kind": "c"}, rules, "f.toml: [t]")


@pytest.mark.parametrize(("cls", "rules"), [(FineTuneConfig, FINE_TUNE), (HeadConfig, FROZEN_HEAD),
                                            (EncoderSpec, ENCODER)])
def test_every_field_of_a_configuration_has_its_constraint_and_the_defaults_hold(cls, rules):
    """A field added without a constraint would go unchecked: the two lists must agree."""
    assert {f.name for f in dataclasses.fields(cls)} == set(rules)
    default = cls() if cls is not EncoderSpec else cls("offline:minilm-l2")
    check_fields(default, rules, "[t]")


def test_a_configuration_built_in_python_is_checked_as_its_table_would_be():
    with pytest.raises(ConfigError, match=r"^\[fine_tune\] warmup_ratio = 1.0: must be a number in \[0, 1\)$"):
        FineTuneConfig(warmup_ratio=1.0)
    with pytest.raises(ConfigError, match=r"^\[frozen_head\] hidden = 0: must be an integer >= 1 \(or left out\)$"):
        HeadConfig(hidden=0)
    with pytest.raises(ConfigError, match=r"^\[encoder\] name = '': must be a hub id, a local folder or one of"):
        EncoderSpec("")


def test_each_task_source_declares_the_keys_its_loader_takes():
    """The source table (harness/data/tasks.py) against the loaders' own signatures."""
    def keywords(fn, *leaving_out):
        return set(inspect.signature(fn).parameters) - set(leaving_out)

    assert set(SOURCES["synthetic"][0]) == keywords(synthetic.generate_task)
    assert set(SOURCES["local"][0]) == keywords(load_local, "folder", "name", "split_seed") | {"path"}
    assert set(SOURCES["hub"][0]) == keywords(load_hub, "name")
    assert {"name", "split_seed"} <= set(COMMON_KEYS)


@pytest.mark.parametrize(("table", "message"), [
    ({"source": "ftp"}, r"\[task\] source = 'ftp': must be one of"),
    ({"source": "local"}, r"\[task\]: a local task needs `path`"),
    ({"source": "streusle", "train": "a.json"}, r"\[task\]: a streusle task needs `test`"),
    ({"source": "conllu", "path": "x.conllu", "task": "ner"}, r"\[task\] task = 'ner': must be one of \['pos', 'dep'\]"),
    ({"source": "hub", "dataset": "x/y", "split_names": "train"}, r"\[task\] split_names = 'train': must be a table"),
    ({"source": "synthetic", "kind": "topic", "validation_fraction": 1.0},
     r"\[task\] validation_fraction = 1.0: must be a number in \[0, 1\)"),
])
def test_a_task_table_is_checked_before_anything_loads(table, message):
    with pytest.raises(ConfigError, match=message):
        TaskSpec.from_dict(table)


def test_a_token_source_checks_its_own_keys_when_called_directly():
    """harness.data.tokens.load reads the same table of keys as the fixture loader (one declaration)."""
    from harness.data import tokens

    with pytest.raises(ConfigError, match=r"^\[task\]: unknown key\(s\) \['pooling'\]"):
        tokens.load("conllu", {"path": "x.conllu", "pooling": "mean"})
    with pytest.raises(ConfigError, match=r"^\[task\]: a streusle task needs `test`$"):
        tokens.load("streusle", {"train": "a.json"})
