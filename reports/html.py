"""The HTML report: one self-contained file (styles inline, figures embedded as data: URIs), so it
opens offline, travels as an e-mail attachment and survives being moved away from its folder."""

from __future__ import annotations

import base64
from html import escape

from . import content
from .model import Report
from .schema import deciding_text, fmt

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1280px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;
vertical-align:top;text-align:left}th{background:#f4f4f4}
.pass{color:#176c2f;font-weight:600}.fail{color:#b00020;font-weight:700}
tr.failed td{background:#fff0f0}
.banner{padding:.6em 1em;border-radius:6px;margin:1em 0;font-size:1.05em}
.banner.ok{background:#e8f5e9}.banner.bad{background:#ffebee}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:12px;color:#555}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}pre{background:#f7f7f7;padding:.8em;
overflow-x:auto}.missing{color:#8a6d00;font-style:italic}small{color:#666}
table.matrix{width:100%}table.matrix td{min-width:7em}table.matrix td.claim{width:34%}table.matrix a{color:inherit}
tr.paper th{background:#e9eef5;font-size:14px}
.c-reproduced{background:#d7f0dc}.c-contradicted{background:#f9d3cf}.c-inconclusive{background:#fff1c2}
.c-error{background:#b00020;color:#fff}.c-skipped,.c-not-judged{background:#eee;color:#555}.c-none{color:#aaa}
.state{font-weight:700}.swatch{display:inline-block;padding:0 .5em;margin-right:.4em;border-radius:3px}
"""

LEGEND = ("reproduced", "contradicted", "inconclusive", "error", "skipped")


def _verdict_badge(v: dict) -> str:
    """The conclusion about the paper, coloured by what it says; the fixture's expectation apart."""
    state, expectation = content.state_of(v)
    badge = f'<span class="swatch c-{state.replace(" ", "-")}">{escape(state)}</span>'
    if expectation == "as expected":
        return badge + "<small>&#10003; as the fixture expected</small>"
    if expectation:
        return badge + f'<span class="fail">{escape(expectation.upper())}</span>'
    return badge


def _img(path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _cell(c: content.Cell | None) -> str:
    if c is None:
        return '<td class="c-none" title="not run on this fixture">&middot;</td>'
    state = f'<a class="state" href="#v{c.index}">{escape(c.state)}</a>'
    numbers = "".join(f"<br><small>{escape(n)}</small>" for n in c.numbers)
    if c.note:
        numbers += f'<br><span class="fail">{escape(c.note)}</span>'
    if not c.expectation:
        expectation = ""
    elif c.expectation == "as expected":
        expectation = "<br><small>&#10003; as expected</small>"
    else:
        expectation = f'<br><span class="fail">{escape(c.expectation.upper())}</span>'
    return f'<td class="c-{c.state.replace(" ", "-")}">{state}{numbers}{expectation}</td>'


def _matrix(verdicts: list[dict]) -> list[str]:
    """The first screen: the papers' claims (rows, grouped by paper) against the fixtures."""
    fixtures, groups = content.matrix(verdicts)
    legend = " ".join(f'<span class="swatch c-{s}">{s}</span>' for s in LEGEND)
    h = ["<h2>The papers' claims, fixture by fixture</h2>",
         f"<p><small>Each cell: what that fixture's evidence says about the paper's sentence, its headline "
         f"numbers, and whether the fixture expected it (&#10003;); &middot;: not run on that fixture. {legend}</small></p>"]
    if fixtures:
        h.append('<table class="matrix"><tr><th>claim: the paper says</th>'
                 + "".join(f"<th>{escape(f)}</th>" for f in fixtures) + "</tr>")
        for paper, rows in groups:
            h.append(f'<tr class="paper"><th colspan="{len(fixtures) + 1}">{escape(paper)}</th></tr>')
            for row in rows:
                h.append(f'<tr><td class="claim"><b>{escape(row.claim)}</b><br><small>{escape(row.sentence)} '
                         f"({escape(row.source)})</small></td>"
                         + "".join(_cell(row.cells.get(f)) for f in fixtures) + "</tr>")
        h.append("</table>")
    broken = content.unloaded(verdicts)
    if broken:
        h.append("<p class=\"fail\">Fixture files that did not load:</p><ul>"
                 + "".join(f'<li><a href="#v{i}">{escape(v["fixture"])}</a>: {escape(v.get("message", ""))}</li>'
                           for i, v in broken) + "</ul>")
    return h


def render_html(report: Report) -> str:
    doc = report.doc
    verdicts, run = doc["verdicts"], doc.get("run", {})
    text, ok = content.banner(verdicts, run)
    h = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        "<title>Reproducibility report: claims about fine-tuning</title>", f"<style>{STYLE}</style>",
        "</head><body>",
        "<h1>Reproducibility report: claims about fine-tuning</h1>",
        f'<div class="banner {"ok" if ok else "bad"}"><b>{escape(text)}</b></div>',
        f"<p><small>Command <code>{escape(run.get('command', '?'))}</code> &middot; device "
        f"{escape(str(run.get('device', '?')))} &middot; commit {escape(str(run.get('git_commit') or 'unknown'))}"
        f" &middot; {escape(str(run.get('wall_time_s', '?')))} s</small></p>",
    ]
    h += _matrix(verdicts)
    for i, v in enumerate(verdicts):
        h.append(f'<h2 id="v{i}">{escape(v["claim"])} / {escape(v["fixture"])}: {_verdict_badge(v)}</h2>')
        if content.statement_text(v):
            h.append(f"<p><b>The paper:</b> {escape(content.statement_text(v))}</p>")
        if v.get("message"):
            h.append(f'<p class="fail">{escape(v["status"])}: {escape(v["message"])}</p>')
            continue
        h += [f"<p><b>Criterion:</b> {escape(v['criterion'])}. <b>Seeds:</b> {escape(', '.join(map(str, v['seeds'])))}.</p>",
              "<table><tr><th>quantity</th><th>measured</th><th>interval</th><th>paper</th></tr>"]
        h += [f"<tr><td>{escape(k)}</td><td>{escape(m)}</td><td>{escape(ci)}</td><td>{escape(p)}</td></tr>"
              for k, m, ci, p in content.measured_items(v)]
        h.append("</table>")
        pvals = content.pvalue_rows(v)
        if pvals:
            h.append("<table><tr><th>significance test</th><th>p</th><th>Holm-adjusted (deciding test, over the "
                     "run's verdicts)</th></tr>"
                     + "".join(f"<tr><td>{escape(k)}</td><td>{p}</td><td>{hp}</td></tr>" for k, p, hp in pvals)
                     + "</table>")
        if v.get("deciding"):
            cls = ' class="fail"' if v["deciding"].get("holds_under_holm") is False else ""
            h.append(f"<p{cls}><b>Deciding test:</b> {escape(deciding_text(v['deciding']))}</p>")
        extra = content.paper_only(v)
        if extra:
            h.append(f"<p><small>Paper, other figures: {escape(fmt(extra))}</small></p>")
        if v.get("details"):
            body = "\n".join(f"{k}: {fmt(val)}" for k, val in v["details"].items())
            h.append(f"<details><summary>details</summary><pre>{escape(body)}</pre></details>")
        for f in report.of(i):
            if f.table is not None:
                head = "".join(f"<th>{escape(str(c))}</th>" for c in f.table["columns"])
                body = "".join("<tr>" + "".join(f"<td>{escape(fmt(c))}</td>" for c in row) + "</tr>"
                               for row in f.table["rows"])
                h.append(f"<table><caption>{escape(f.title)}</caption><tr>{head}</tr>{body}</table>")
            elif f.error:
                h.append(f'<p class="missing">Figure not drawn ({escape(f.title)}): {escape(f.error)}</p>')
            else:
                h.append(f"<figure>{_img(f.png)}<figcaption><b>{escape(f.title)}.</b> {escape(f.caption)} "
                         f"<small>({escape(f.svg.name)} beside this report)</small></figcaption></figure>")
    h += ["<h2>Environment</h2>", "<table>"]
    h += [f"<tr><th>{escape(k)}</th><td>{escape(val)}</td></tr>" for k, val in content.environment_rows(run, verdicts)]
    h.append("</table>")
    listing = content.cache_listing(run)
    if listing:
        rows = "".join(f"<tr><td><code>{escape(a)}</code></td><td>{how}</td></tr>" for a, how in listing)
        h.append(f"<details><summary>artifacts used ({len(listing)})</summary><table>{rows}</table></details>")
    commands = content.reproduce_commands(run, str(report.out / "verdicts.json"), str(report.out))
    h += ["<h2>Reproduce</h2>", f"<pre>{escape(chr(10).join(commands))}</pre>", "</body></html>"]
    return "\n".join(h) + "\n"
