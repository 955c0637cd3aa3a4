"""Build a report folder from a verdicts file and an artifact store, recomputing nothing.

    DIR/verdicts.json   the verdicts (copied in when built from elsewhere)
    DIR/report.md       Markdown: summary table, one section per verdict with its figures
    DIR/report.html     the same, self-contained: figures embedded, no network needed
    DIR/figures/*.png, *.svg

Figures come from the specifications the claims attached to their verdicts; artifacts they refer
to are read from the store and never built. A figure that cannot be drawn (artifact not in the
store, bad specification) is listed in the report with the reason instead of failing the build.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from . import draw
from .html import render_html
from .markdown import render_markdown
from .model import Figure, Report
from .schema import load


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _write(path: Path, text: str) -> None:
    """Atomically: a temporary file of a unique name beside ``path``, then one rename (two runs
    writing the same report folder never share a temporary file)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(verdicts: str | Path | dict[str, Any], out: str | Path, store=None) -> Report:
    """Write the report into ``out``; ``verdicts`` is a verdicts file or its parsed content and
    ``store`` an ArtifactStore (or None: figures that need artifacts are listed as missing)."""

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(verdicts, dict):
        doc = verdicts
    else:
        doc = load(verdicts)
        source = Path(verdicts).resolve()
        if source != (out / "verdicts.json").resolve():
            _write(out / "verdicts.json", source.read_text(encoding="utf-8"))
    report = Report(doc, out)
    for i, v in enumerate(doc["verdicts"]):
        for j, spec in enumerate(v.get("figures", [])):
            stem = out / "figures" / f"{i:02d}-{_slug(v['claim'])}-{_slug(v['fixture'])}-{j}"
            title = spec.get("title", spec.get("kind", "figure")) if isinstance(spec, dict) else "figure"
            if isinstance(spec, dict) and spec.get("kind") == "table":
                report.figures.append(Figure(i, title, table=spec))
                continue
            try:
                drawn = draw.draw(spec, stem, store)
            except draw.MissingArtifact as exc:
                report.figures.append(Figure(i, title, error=f"artifacts not in the store: {exc}"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                report.figures.append(Figure(i, title, error=f"cannot draw: {type(exc).__name__}: {exc}"))
            else:
                report.figures.append(Figure(i, title, drawn.png, drawn.svg, drawn.caption))
    _write(out / "report.md", render_markdown(report))
    _write(out / "report.html", render_html(report))
    return report


def write_verdicts(text: str, out: str | Path) -> Path:
    """Write the verdicts file atomically (the run's first output, before any figure)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "verdicts.json", text)
    return out / "verdicts.json"
