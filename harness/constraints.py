"""One vocabulary for what a setting allows, and one error message for a value it does not.

Every table of a fixture file is checked through these: the claims' parameters
(``claims/spec.py``'s ``Param``), ``[fine_tune]``, ``[frozen_head]``, ``[encoder]`` and the keys a
``[task]`` shares across sources. A constraint says in words what it allows (``str(c)``, the
second half of every message) and converts a value it allows to the form the code uses (a TOML
integer written for a float, a list for a tuple). The message is always::

    <where> <key> = <value>: must be <what is allowed>

where ``where`` names the file and the table (``fixtures/mine.toml: [fine_tune]``), as
scikit-learn's parameter validation does for its estimators.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

_MISSING = object()


class Constraint:
    """What a setting allows: :meth:`allows`, :meth:`convert`, and ``str()`` in words."""

    def allows(self, value: Any) -> bool:  # pragma: no cover - every constraint overrides it
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Interval(Constraint):
    """A number (``kind`` float) or an integer (``kind`` int) within bounds; ``None`` for no bound;
    ``closed``: which ends belong to it (``both``, ``left``, ``right``, ``neither``)."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def allows(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numbers.Real: NumPy's too
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low if left else value <= self.low):
            return False
        return not (self.high is not None and (value > self.high if right else value >= self.high))

    def convert(self, value: Any) -> Any:
        return float(value) if self.kind is float else int(value)

    def bounds(self) -> str:
        """The bounds in words (`` >= 1``, `` in (0, 0.5)``), or nothing."""
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f" {'>=' if left else '>'} {self.low:g}"
        if self.low is None:
            return f" {'<=' if right else '<'} {self.high:g}"
        return f" in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"

    def __str__(self) -> str:
        return ("an integer" if self.kind is int else "a number") + self.bounds()


@dataclass(frozen=True)
class Options(Constraint):
    """One of a few strings."""

    values: tuple[str, ...]

    def allows(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    def __str__(self) -> str:
        return f"one of {list(self.values)}"


@dataclass(frozen=True)
class Text(Constraint):
    """A string: non-empty where ``nonempty``, matching ``pattern`` in full where one is given."""

    pattern: str | None = None
    nonempty: bool = False

    def allows(self, value: Any) -> bool:
        if not isinstance(value, str) or (self.nonempty and not value.strip()):
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    def __str__(self) -> str:
        if self.pattern:
            return f"a string matching {self.pattern!r}"
        return "a non-empty string" if self.nonempty else "a string"


@dataclass(frozen=True)
class LocalPath(Constraint):
    """A path to a local file, relative to the fixture file (the loader resolves it)."""

    def allows(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __str__(self) -> str:
        return "a path to a local file (relative to the fixture file)"


@dataclass(frozen=True)
class Boolean(Constraint):
    def allows(self, value: Any) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Table(Constraint):
    def allows(self, value: Any) -> bool:
        return isinstance(value, dict)

    def convert(self, value: Any) -> Any:
        return dict(value)

    def __str__(self) -> str:
        return "a table"


@dataclass(frozen=True)
class ListOf(Constraint):
    """A list whose every item ``item`` allows; non-empty where ``nonempty``. Converted to a tuple
    where ``as_tuple`` (a frozen dataclass's field), else to a list."""

    item: Constraint
    nonempty: bool = False
    as_tuple: bool = False

    def allows(self, value: Any) -> bool:
        if not isinstance(value, list | tuple) or (self.nonempty and not value):
            return False
        return all(self.item.allows(v) for v in value)

    def convert(self, value: Any) -> Any:
        items = [self.item.convert(v) for v in value]
        return tuple(items) if self.as_tuple else items

    def __str__(self) -> str:
        if isinstance(self.item, Interval):
            return f"a list of {'integers' if self.item.kind is int else 'numbers'}{self.item.bounds()}"
        if isinstance(self.item, Text) and not self.item.pattern:
            return "a list of strings"
        return f"a list of {self.item}"


@dataclass(frozen=True)
class OrNone(Constraint):
    """``inner``, or left out (``None``)."""

    inner: Constraint

    def allows(self, value: Any) -> bool:
        return value is None or self.inner.allows(value)

    def convert(self, value: Any) -> Any:
        return None if value is None else self.inner.convert(value)

    def __str__(self) -> str:
        return f"{self.inner} (or left out)"


@dataclass(frozen=True)
class AnyOf(Constraint):
    """What any one of ``options`` allows (converted by the first that allows it)."""

    options: tuple[Constraint, ...]

    def allows(self, value: Any) -> bool:
        return any(c.allows(value) for c in self.options)

    def convert(self, value: Any) -> Any:
        return next(c for c in self.options if c.allows(value)).convert(value)

    def __str__(self) -> str:
        return " or ".join(map(str, self.options))


def problem(where: str, key: str, value: Any, allowed: Any) -> ConfigError:
    """The one message: ``<where> <key> = <value>: must be <allowed>``."""
    return ConfigError(f"{where} {key} = {value!r}: must be {allowed}")


def check(value: Any, constraint: Constraint, where: str, key: str) -> Any:
    """``value`` as the code uses it, or the :func:`problem` that names where, key and value."""
    if not constraint.allows(value):
        raise problem(where, key, value, constraint)
    return constraint.convert(value)


def unknown_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """A table's keys that nothing reads are an error (a typo would otherwise be ignored)."""
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def check_table(table: Mapping[str, Any], constraints: Mapping[str, Constraint], where: str) -> dict[str, Any]:
    """Every key of ``table`` known and allowed; the values converted."""
    unknown_keys(table, constraints, where)
    return {key: check(value, constraints[key], where, key) for key, value in table.items()}


def require(table: Mapping[str, Any], keys: Iterable[str], where: str, what: str) -> None:
    """The keys ``what`` (``a local task``, say) cannot do without, each present in ``table``."""
    missing = [k for k in keys if k not in table]
    if missing:
        raise ConfigError(f"{where}: {what} needs {', '.join(f'`{k}`' for k in missing)}")


def check_fields(obj: Any, constraints: Mapping[str, Constraint], where: str) -> None:
    """A dataclass built in Python (not read from a fixture file), checked as its table would be."""
    for key, constraint in constraints.items():
        value = getattr(obj, key, _MISSING)
        if value is not _MISSING:
            check(list(value) if isinstance(value, tuple) else value, constraint, where, key)
