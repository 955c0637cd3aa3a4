"""What a report says, independent of its format: summary cells, environment, commands.

``reports/markdown.py`` and ``reports/html.py`` lay the same content out; nothing here draws or
computes anything beyond formatting the verdicts file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from .schema import FIXTURE_FILE, fmt, interval_text, value_text

INSTALL = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"'


def measured_items(v: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(key, measured, 95% CI, paper) for every measured value of a verdict."""
    out = []
    for key, val in v["measured"].items():
        out.append((key, value_text(val), interval_text(v.get("intervals", {}).get(key)),
                    value_text(v["paper"][key]) if key in v.get("paper", {}) else ""))
    return out


def paper_only(v: dict[str, Any]) -> dict[str, Any]:
    return {k: p for k, p in v.get("paper", {}).items() if k not in v["measured"]}


def counts(verdicts: list[dict[str, Any]]) -> tuple[int, int]:
    """(expectations that held, rows)."""
    return sum(v.get("status") == "passed" for v in verdicts), len(verdicts)


def banner(verdicts: list[dict[str, Any]], run: dict[str, Any]) -> tuple[str, bool]:
    """The banner's text and whether it is green: red on any error or failed expectation (or a
    pytest exit status other than 0). Counts each conclusion about the papers and each status."""
    conclusions = {c: sum(v.get("conclusion") == c for v in verdicts)
                   for c in ("reproduced", "contradicted", "inconclusive")}
    status = {s: sum(v.get("status") == s for v in verdicts) for s in ("passed", "failed", "error", "skipped")}
    judged = sum(conclusions.values())
    text = (f"{judged} claim verdicts: {conclusions['reproduced']} reproduced, {conclusions['contradicted']} "
            f"contradicted, {conclusions['inconclusive']} inconclusive. Fixture expectations: "
            f"{status['passed']} held, {status['failed']} failed; {status['error']} errors, "
            f"{status['skipped']} skipped")
    exit_status = run.get("exit_status")
    if exit_status not in (None, 0):
        text += f"; pytest exit status {exit_status}"
    ok = status["failed"] == 0 and status["error"] == 0 and exit_status in (None, 0)
    return text + ".", ok


def conclusion_text(v: dict[str, Any]) -> str:
    """What a row says about the paper, and whether the fixture's expectation held."""
    if v.get("status") in ("error", "skipped"):
        return v["status"].upper()
    c = v.get("conclusion") or "not judged (older file)"
    held = "expectation held" if v.get("status") == "passed" else f"EXPECTED {v.get('expected', '?')}"
    return f"{c} ({held})"


def statement_text(v: dict[str, Any]) -> str:
    s = v.get("statement") or {}
    return f"\u201c{s['sentence']}\u201d ({s.get('source', '')})" if s.get("sentence") else ""


def pvalue_rows(v: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(test, raw p, Holm-adjusted p over the run's verdicts: the deciding test's only) for every
    significance test a verdict used."""
    holm = v.get("pvalues_holm") or {}
    return [(k, fmt(p), fmt(holm[k]) if k in holm else "") for k, p in (v.get("pvalues") or {}).items()]


def environment_rows(run: dict[str, Any], verdicts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    env = run.get("environment", {})
    mach = run.get("machine", {})
    seeds = sorted({s for v in verdicts for s in v.get("seeds", [])})
    cache = run.get("cache") or {}
    rows = [
        ("command", run.get("command", "?")),
        ("started (UTC)", run.get("started", "?")),
        ("wall time", f"{run.get('wall_time_s', '?')} s"),
        ("git commit", (run.get("git_commit") or "unknown")
         + (" (working tree had uncommitted changes)" if run.get("git_dirty") else "")),
        ("Python", env.get("python", "?")),
        ("OS", env.get("platform", "?")),
        ("CPU", f"{mach.get('cpu', env.get('processor', '?'))}" + (f", {mach['cpu_count']} cores" if mach.get("cpu_count") else "")),
        ("GPU", ", ".join(mach.get("gpus") or []) or "none"),
        ("device", str(run.get("device", "?"))),
        ("seeds", ", ".join(map(str, seeds)) or "?"),
        *([("dry run", f"every split cut to at most {run['max_examples']} examples (--max-examples): "
                       "not the paper's scale")] if run.get("max_examples") else []),
        ("artifact store", str(run.get("artifacts", "?"))),
        ("artifacts", f"{cache.get('hits', '?')} cache hits, {cache.get('built', '?')} built, "
                      f"{cache.get('rebuilt_corrupt', 0)} rebuilt after damage"),
    ]
    resolved = run.get("resolved_revisions") or {}
    if resolved:
        rows.append(("hub revisions (resolved)", ", ".join(f"{k} @ {v}" for k, v in sorted(resolved.items()))))
    stages = run.get("stage_times_s") or {}
    if stages:
        rows.append(("time per stage", ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())))
    pkgs = env.get("packages") or {}
    if pkgs:
        rows.append(("packages", ", ".join(f"{k} {v}" for k, v in pkgs.items() if v)))
    return rows


def cache_listing(run: dict[str, Any]) -> list[tuple[str, str]]:
    """(artifact, "hit" | "built") for every artifact the run used."""
    lists = run.get("cache_artifacts") or {}
    return [(a, "cache hit") for a in lists.get("hits", [])] + [(a, "built") for a in lists.get("built", [])]


def reproduce_commands(run: dict[str, Any], verdicts_path: str, out_dir: str) -> list[str]:
    commit = run.get("git_commit")
    lines = []
    if commit:
        lines.append(f"git checkout {commit}   # in a clone of this project")
    lines.append(INSTALL)
    command = run.get("command", "pytest claims -m smoke")
    args = shlex.split(command)
    if args and args[0] == "pytest":
        args[0] = ".venv/bin/pytest"
    lines.append(shlex.join(args) + "   # recomputes only what the store lacks")
    lines.append(f".venv/bin/python -m reports build --verdicts {shlex.quote(verdicts_path)} "
                 f"--artifacts {shlex.quote(str(run.get('artifacts', '.artifacts')))} --out {shlex.quote(out_dir)}"
                 "   # this report again, recomputing nothing")
    return lines


# ---------------------------------------------------------------------------------------------
# The first screen: the papers' claims as rows, fixtures as columns


@dataclass(frozen=True)
class Cell:
    """One claim x fixture: what it says about the paper, its headline numbers, and the fixture's
    expectation, apart."""

    index: int  # the verdict's position in the file (its section's anchor)
    state: str  # reproduced, contradicted, inconclusive, error, skipped (or "not judged")
    numbers: tuple[str, ...]  # "key value (paper p)", one or two
    expectation: str  # "as expected", "expected reproduced", or "" for an error or a skip
    note: str = ""  # a reproduction that Holm's adjustment over the run would undo


@dataclass(frozen=True)
class Row:
    claim: str
    sentence: str
    source: str
    cells: dict[str, Cell]  # fixture -> cell


def paper_of(source: str) -> str:
    """The paper a claim's source names first: "Bogaert et al. 2023, Table 1" -> "Bogaert et al. 2023"."""
    return (source or "").split(";")[0].split(",")[0].strip() or "(no paper)"


def headline(v: dict[str, Any]) -> tuple[str, ...]:
    """The verdict's one or two headline numbers: the measured keys its claim names (``headline``),
    else its first two."""
    measured = v.get("measured", {})
    keys = [k for k in v.get("headline") or () if k in measured] or list(measured)[:2]
    out = []
    for k in keys[:2]:
        paper = v.get("paper", {})
        out.append(f"{k} {value_text(measured[k])}" + (f" (paper {value_text(paper[k])})" if k in paper else ""))
    return tuple(out)


def state_of(v: dict[str, Any]) -> tuple[str, str]:
    """What a verdict says about the paper (a conclusion, ``error``, ``skipped`` or ``not judged``)
    and, apart, whether the fixture's expectation held (``as expected``, ``expected <conclusion>``,
    or nothing where no verdict was reached)."""
    status = v.get("status")
    if status in ("error", "skipped"):
        return status, ""
    return v.get("conclusion") or "not judged", "as expected" if status == "passed" else \
        f"expected {v.get('expected', '?')}"


def cell(i: int, v: dict[str, Any]) -> Cell:
    state, expectation = state_of(v)
    if state in ("error", "skipped"):
        return Cell(i, state, (), "")
    note = "not after Holm's adjustment" if (v.get("deciding") or {}).get("holds_under_holm") is False else ""
    return Cell(i, state, headline(v), expectation, note)


def matrix(verdicts: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, list[Row]]]]:
    """(fixtures, [(paper, rows)]): every verdict of a claim in one cell, a row per claim and
    sentence (a claim whose fixtures test different findings of the paper has a row for each),
    rows grouped by the paper they quote, in the order the file gives them. Fixture files that did
    not load are not claims: :func:`unloaded`."""
    fixtures: list[str] = []
    rows: dict[tuple[str, str], Row] = {}
    for i, v in enumerate(verdicts):
        if v["claim"] == FIXTURE_FILE:
            continue
        if v["fixture"] not in fixtures:
            fixtures.append(v["fixture"])
        st = v.get("statement") or {}
        key = (v["claim"], st.get("sentence", ""))
        row = rows.setdefault(key, Row(v["claim"], st.get("sentence", ""), st.get("source", ""), {}))
        row.cells[v["fixture"]] = cell(i, v)
    groups: dict[str, list[Row]] = {}
    for row in rows.values():
        groups.setdefault(paper_of(row.source), []).append(row)
    return fixtures, list(groups.items())


def unloaded(verdicts: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The fixture files that did not load, with their positions."""
    return [(i, v) for i, v in enumerate(verdicts) if v["claim"] == FIXTURE_FILE]
