"""A Markdown summary of a run's verdicts: one row per claim x fixture, measured beside paper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claims.verdict import _fmt


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "mean" in value:
        sd = f" ± {_fmt(value['sd'])}" if "sd" in value else ""
        return f"{_fmt(value['mean'])}{sd}"
    return _fmt(value).replace("|", "\\|")


def render_markdown(doc: dict[str, Any]) -> str:
    verdicts = doc["verdicts"]
    run = doc.get("run", {})
    passed = sum(v["passed"] for v in verdicts)
    lines = [
        "# Reproducibility report: claims about fine-tuning",
        "",
        f"{passed} of {len(verdicts)} verdicts passed. Command: `{run.get('command', '?')}`; "
        f"device: {run.get('device', '?')}; commit: {run.get('git_commit') or 'unknown'}; "
        f"wall time: {run.get('wall_time_s', '?')} s.",
        "",
        "| claim | fixture | verdict | measured (paper) | criterion |",
        "|---|---|---|---|---|",
    ]
    for v in verdicts:
        figures = "; ".join(
            f"{k} {_cell(val)}" + (f" ({_cell(v['paper'][k])})" if k in v.get("paper", {}) else "")
            for k, val in v["measured"].items()
        )
        lines.append(
            f"| {v['claim']} | {v['fixture']} | {'PASS' if v['passed'] else '**FAIL**'} | "
            f"{figures} | {v['criterion']} |"
        )
    lines += ["", "## Verdicts in full", ""]
    for v in verdicts:
        lines += [f"### {v['claim']} / {v['fixture']}", "", "```"]
        lines += [f"{k}: {_fmt(val)}" for k, val in v["measured"].items()]
        if v.get("paper"):
            lines.append(f"paper: {_fmt(v['paper'])}")
        lines += [f"{k}: {_fmt(val)}" for k, val in v.get("details", {}).items()]
        lines += ["```", ""]
    return "\n".join(lines) + "\n"


def write_markdown(doc: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(doc))
    tmp.replace(path)
