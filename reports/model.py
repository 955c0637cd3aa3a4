"""The report's data model: the verdicts document, the folder it is written to, and its figures
(drawn or not, with the reason). The renderers (``html.py``, ``markdown.py``) read it; ``build.py``
fills it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    verdict: int
    title: str
    png: Path | None = None
    svg: Path | None = None
    caption: str = ""
    error: str | None = None
    table: dict[str, Any] | None = None  # a "table" figure: laid out as a table, not drawn


@dataclass
class Report:
    doc: dict[str, Any]
    out: Path
    figures: list[Figure] = field(default_factory=list)

    def of(self, i: int) -> list[Figure]:
        return [f for f in self.figures if f.verdict == i]

    @property
    def files(self) -> dict[str, Path]:
        return {"verdicts": self.out / "verdicts.json", "markdown": self.out / "report.md",
                "html": self.out / "report.html"}
