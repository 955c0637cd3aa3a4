"""The Markdown report: summary table, one section per verdict with its figures, environment,
and the commands that reproduce the run."""

from __future__ import annotations

from . import content
from .model import Report
from .schema import deciding_text, fmt


def _esc(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


MARK = {"reproduced": "✅", "contradicted": "❌", "inconclusive": "❔", "error": "⚠️", "skipped": "⏭️",
        "not judged": "·"}


def _cell(c: content.Cell | None) -> str:
    if c is None:
        return "not run"
    parts = [f"{MARK.get(c.state, '')} **{c.state}**", *map(_esc, c.numbers)]
    if c.note:
        parts.append(f"**{c.note}**")
    if c.expectation == "as expected":
        parts.append("as the fixture expected")
    elif c.expectation:
        parts.append(f"**{c.expectation.upper()}**")
    return "<br>".join(parts)


def _matrix(verdicts: list[dict]) -> list[str]:
    """The first table: the papers' claims (rows, grouped by paper) against the fixtures."""
    fixtures, groups = content.matrix(verdicts)
    lines = ["", "## The papers' claims, fixture by fixture", "",
             "Each cell: what that fixture's evidence says about the paper's sentence, its headline numbers, "
             "and whether the fixture expected it.", ""]
    if fixtures:
        lines += ["| claim: the paper says | " + " | ".join(fixtures) + " |", "|---" * (len(fixtures) + 1) + "|"]
        for paper, rows in groups:
            lines.append(f"| **{_esc(paper)}** |" + " |" * len(fixtures))
            for row in rows:
                lines.append(f"| `{row.claim}`: {_esc(row.sentence)} ({_esc(row.source)}) | "
                             + " | ".join(_cell(row.cells.get(f)) for f in fixtures) + " |")
    broken = content.unloaded(verdicts)
    if broken:
        lines += ["", "**Fixture files that did not load:**", ""]
        lines += [f"- {v['fixture']}: {_esc(v.get('message', ''))}" for _, v in broken]
    return lines


def render_markdown(report: Report) -> str:
    doc, out = report.doc, report.out
    verdicts, run = doc["verdicts"], doc.get("run", {})
    text, ok = content.banner(verdicts, run)
    lines = [
        "# Reproducibility report: claims about fine-tuning",
        "",
        f"**{'' if ok else 'ATTENTION: '}{text}** Command: `{run.get('command', '?')}`; device: "
        f"{run.get('device', '?')}; commit: {run.get('git_commit') or 'unknown'}; wall time: "
        f"{run.get('wall_time_s', '?')} s.",
        "",
    ]
    lines += _matrix(verdicts)
    for i, v in enumerate(verdicts):
        lines += ["", f"## {v['claim']} / {v['fixture']}: {content.conclusion_text(v)}", ""]
        if content.statement_text(v):
            lines += [f"The paper: {content.statement_text(v)}.", ""]
        if v.get("message"):
            lines += [f"**{v['status']}**: {_esc(v['message'])}", ""]
            continue
        lines += [f"Criterion: {v['criterion']}. Seeds: {', '.join(map(str, v['seeds']))}.", "",
                  "| quantity | measured | interval | paper |", "|---|---|---|---|"]
        lines += [f"| {_esc(k)} | {_esc(m)} | {_esc(ci)} | {_esc(p)} |" for k, m, ci, p in content.measured_items(v)]
        pvals = content.pvalue_rows(v)
        if pvals:
            lines += ["", "| significance test | p | Holm-adjusted (deciding test, over the run's verdicts) |",
                      "|---|---|---|"]
            lines += [f"| {_esc(k)} | {p} | {h} |" for k, p, h in pvals]
        if v.get("deciding"):
            lines += ["", f"Deciding test: {_esc(deciding_text(v['deciding']))}"]
        extra = content.paper_only(v)
        if extra:
            lines += ["", f"Paper, other figures: {_esc(fmt(extra))}"]
        if v.get("details"):
            lines += ["", "<details><summary>details</summary>", "", "```"]
            lines += [f"{k}: {fmt(val)}" for k, val in v["details"].items()]
            lines += ["```", "", "</details>"]
        for f in report.of(i):
            if f.table is not None:
                cols = f.table["columns"]
                lines += ["", f"*{f.title}.*", "", "| " + " | ".join(_esc(str(c)) for c in cols) + " |",
                          "|" + "---|" * len(cols)]
                lines += ["| " + " | ".join(_esc(fmt(c)) for c in row) + " |" for row in f.table["rows"]]
            elif f.error:
                lines += ["", f"*Figure not drawn ({f.title}): {f.error}*"]
            else:
                rel = f.png.relative_to(out).as_posix()
                lines += ["", f"![{f.title}]({rel})", "", f"*{f.title}.* {f.caption} "
                          f"([SVG]({f.svg.relative_to(out).as_posix()}))"]
    lines += ["", "## Environment", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_esc(val)} |" for k, val in content.environment_rows(run, verdicts)]
    listing = content.cache_listing(run)
    if listing:
        lines += ["", "<details><summary>artifacts used</summary>", "", "| artifact | |", "|---|---|"]
        lines += [f"| `{a}` | {how} |" for a, how in listing]
        lines += ["", "</details>"]
    lines += ["", "## Reproduce", "", "```bash"]
    lines += content.reproduce_commands(run, str(out / "verdicts.json"), str(out))
    lines += ["```", ""]
    return "\n".join(lines)
