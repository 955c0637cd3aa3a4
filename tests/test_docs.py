"""The README and docs/ as a reader meets them: every local link leads somewhere, the README stays a
front door, and its fixture example for one's own encoder and data is a fixture that loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from claims.fixture import load_fixture
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page: its headings, lower-cased, punctuation out, spaces to '-';
    and explicit ``<a id="...">``."""
    text = page.read_text(encoding="utf-8")
    heads = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}
    return heads | set(re.findall(r'<a id="([^"]+)"></a>', text))


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(f"{target} (no file {dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading or anchor {anchor!r} in {dest.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_local_link_leads_somewhere(page):
    broken = _broken_links(page)
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    (tmp_path / "other.md").write_text('# A heading\n<a id="kept"></a>\n')
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-heading) [ok](other.md#kept) [web](https://x.org/y) "
                    "[gone](missing.md) [anchor](other.md#nowhere) [here](#nor-here)\n# Page\n")
    assert [b.split(" ")[0] for b in _broken_links(page)] == ["missing.md", "other.md#nowhere", "#nor-here"]


def test_the_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 350, f"README.md has {lines} lines: move reference material to docs/"


def _readme_fixture() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own encoder and data", 1)[1]
    return re.search(r"```toml\n(.*?)```", section, flags=re.S).group(1)


def test_the_readme_fixture_example_loads(tmp_path):
    (tmp_path / "my-encoder").mkdir()
    (tmp_path / "my-data").mkdir()
    path = tmp_path / "my-fixture.toml"
    path.write_text(_readme_fixture(), encoding="utf-8")
    fx = load_fixture(path)
    assert fx.name == "my-encoder-on-my-data" and tuple(fx.seeds) == (0, 1, 2)
    assert set(fx.claims) == {"accuracy_gap", "no_overfitting"}
    assert fx.encoder.name == str(tmp_path / "my-encoder")


def test_a_broken_readme_example_would_be_caught(tmp_path):
    path = tmp_path / "my-fixture.toml"
    path.write_text(_readme_fixture().replace("tolerance = 0.05", 'tolerance = "five percent"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="tolerance"):
        load_fixture(path)
