"""What a report says, independent of its format: summary cells, environment, commands.

``reports/markdown.py`` and ``reports/html.py`` lay the same content out; nothing here draws or
computes anything beyond formatting the verdicts file.
"""

from __future__ import annotations

import shlex
from typing import Any

from .schema import fmt, interval_text, value_text

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
