"""The claims, found: every module of ``claims/catalog/`` is one claim, and this registry is the
one list of them. Test parametrization (``claims/plugin.py``), fixture validation
(``claims/fixture.py``), the claim tables in the docs (:data:`GENERATED`) and the report all read
it.

A claim module defines five names (``docs/adding-a-claim.md``):

- ``SPEC``: its :class:`~claims.spec.ClaimSpec` (paper, section, sentence, typed parameters, what
  it needs, figures, negative controls); ``SPEC.name`` is the module's name;
- ``Evidence``: a frozen dataclass, subclass of :class:`claims.judges.Evidence`, with a named field
  for everything the judge reads;
- ``gather(pipeline, fx) -> Evidence``: reads the fixture's artifacts (built or found by the
  :class:`~harness.pipeline.build.Harness`);
- ``judge(evidence, params) -> Verdict``: a pure function (tests feed it broken evidence);
- ``draw(evidence, verdict, params) -> tuple of figures``: the report's figures.

``python -m claims.registry --write`` rewrites the generated parts of the docs.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.errors import ConfigError

from . import catalog
from .judges import Evidence
from .spec import ClaimSpec
from .verdict import Verdict

PARTS = ("SPEC", "Evidence", "gather", "judge", "draw")


@dataclass(frozen=True)
class Claim:
    """One claim module, checked: see the module docstring."""

    spec: ClaimSpec
    evidence: type[Evidence]
    gather: Callable[..., Evidence]
    judge: Callable[[Any, dict[str, Any]], Verdict]
    draw: Callable[[Any, Verdict, dict[str, Any]], tuple]
    module: str

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:  # pytest shows it in a failing test's parameters
        return f"Claim({self.name})"


def claim_of(module: ModuleType) -> Claim:
    """The claim a module defines, or a TypeError that names the module and what it lacks."""
    name = module.__name__.rsplit(".", 1)[-1]
    missing = [part for part in PARTS if not hasattr(module, part)]
    if missing:
        raise TypeError(f"{module.__name__}: a claim module defines {', '.join(PARTS)}; missing: {', '.join(missing)}")
    spec, evidence = module.SPEC, module.Evidence
    if not isinstance(spec, ClaimSpec) or spec.name != name:
        raise TypeError(f"{module.__name__}: SPEC must be a ClaimSpec named {name!r} (the module's name), "
                        f"got {getattr(spec, 'name', spec)!r}")
    if not (isinstance(evidence, type) and issubclass(evidence, Evidence) and dataclasses.is_dataclass(evidence)):
        raise TypeError(f"{module.__name__}: Evidence must be a dataclass subclassing claims.judges.Evidence")
    return Claim(spec, evidence, module.gather, module.judge, module.draw, module.__name__)


def _discover() -> dict[str, Claim]:
    found = [claim_of(importlib.import_module(f"{catalog.__name__}.{m.name}"))
             for m in pkgutil.iter_modules(catalog.__path__) if not m.name.startswith("_")]
    return {c.name: c for c in found}


REGISTRY: dict[str, Claim] = _discover()
# Every claim's spec, grouped by paper (the docs' and the report's order)
CLAIMS: dict[str, ClaimSpec] = dict(sorted(((n, c.spec) for n, c in REGISTRY.items()),
                                           key=lambda kv: (kv[1].source.split(",")[0], kv[0])))


def spec(name: str) -> ClaimSpec:
    try:
        return CLAIMS[name]
    except KeyError:
        raise ConfigError(f"unknown claim {name!r}; allowed: {sorted(CLAIMS)}") from None


def claim_index() -> str:
    """The README's short list of the claims: name, paper and section."""
    rows = ["| claim | paper, where |", "|---|---|"]
    rows += [f"| [`{s.name}`](docs/claims.md#{s.name}) | {s.source} |" for s in CLAIMS.values()]
    return "\n".join(rows)


def claim_table() -> str:
    """``docs/claims.md``'s claim table: each claim's paper, sentence and rule."""
    rows = ["| claim | paper | the paper's sentence | decided by (fixture parameters) |",
            "|---|---|---|---|"]
    for s in CLAIMS.values():
        sentence = s.sentence if isinstance(s.sentence, str) else "; ".join(
            f"`{k}`: {v}" for k, v in s.sentence.items())
        rows.append(f'| <a id="{s.name}"></a>`{s.name}` | {s.source} | {sentence} | {s.decides} |')
    return "\n".join(rows)


def parameter_table() -> str:
    """Every claim's parameters with their types, defaults and allowed values."""
    rows = ["| claim | parameter | default | allowed | meaning |", "|---|---|---|---|---|"]
    for s in CLAIMS.values():
        for p in s.params:
            default = "(required)" if p.required else "(none)" if p.default is None else repr(p.default).replace("'", '"')
            rows.append(f"| `{s.name}` | `{p.name}` | `{default}` | {p.allowed()} | {p.help} |")
    return "\n".join(rows)


# The generated parts of the docs: each file's text between its BEGIN and END markers.
BEGIN = "<!-- generated by `python -m claims.registry --write`: edit the claim's module, not this -->"
END = "<!-- end of generated part -->"
GENERATED = {"README.md": lambda: claim_index(),
             "docs/claims.md": lambda: claim_table() + "\n\n" + _params_intro() + parameter_table()}


def _params_intro() -> str:
    return ("Every claim also takes `expect` (`reproduced`, `contradicted`, `inconclusive`) and a `paper`\n"
            "table of the paper's figures. The parameters, checked when a fixture is loaded:\n\n")


def generated(text: str, path: str) -> str:
    """``text`` (the file at ``path``) with its generated part rewritten from the specs."""
    try:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ConfigError(f"{path}: no generated part (the lines {BEGIN!r} ... {END!r})") from None
    return f"{head}{BEGIN}\n{GENERATED[path]()}\n{END}{tail}"


if __name__ == "__main__":  # python -m claims.registry [--write]: the tables, printed or written
    import sys

    root = Path(__file__).resolve().parents[1]
    if sys.argv[1:] == ["--write"]:
        for rel in GENERATED:
            file = root / rel
            file.write_text(generated(file.read_text(encoding="utf-8"), rel), encoding="utf-8")
            print(f"wrote {rel}")
    else:
        for make in GENERATED.values():
            print(make(), end="\n\n")
