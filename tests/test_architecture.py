"""The layers of docs/architecture.md, as contracts (``[tool.importlinter]`` in pyproject.toml):
checked here with import-linter, imports inside functions included, and at run time where it
matters (the report reader loads no torch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path) -> tuple[int, str]:
    """import-linter in a process of its own: in this one it would disable every logger that
    exists (the claims' progress lines among them)."""
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout + done.stderr


def test_the_layer_contracts_hold():
    code, out = _lint(ROOT / "pyproject.toml")
    assert code == 0, out
    assert "0 broken" in out and "12 kept" in out, out


def test_a_broken_contract_is_caught(tmp_path):
    config = tmp_path / "contracts.toml"
    config.write_text('''[tool.importlinter]
root_packages = ["harness", "reports", "claims"]
include_external_packages = true

[[tool.importlinter.contracts]]
name = "the pipeline without torch (false: it fine-tunes)"
type = "forbidden"
source_modules = ["harness.pipeline.build"]
forbidden_modules = ["torch"]
''', encoding="utf-8")
    code, out = _lint(config)
    assert code == 1 and "BROKEN" in out, out


def test_the_report_reader_loads_no_torch():
    code = ("import sys\n"
            "import reports.__main__, reports.build, harness.store\n"
            "loaded = sorted(m for m in ('torch', 'transformers', 'harness.pipeline.build') if m in sys.modules)\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_store_shared_by_ranks_needs_the_rank_module(tmp_path):
    """harness.store does not import harness.distributed (torch); under torchrun without it, a build
    is refused rather than run on every rank unsynchronised."""
    code = ("import sys\n"
            "from harness.store import ArtifactStore\n"
            "from harness.errors import ConfigError\n"
            f"store = ArtifactStore({str(tmp_path)!r})\n"
            "try:\n"
            "    store.get_or_build('x', '1', {}, lambda folder: None)\n"
            "except ConfigError as exc:\n"
            "    assert 'WORLD_SIZE=2' in str(exc) and 'harness.distributed' in str(exc), exc\n"
            "else:\n"
            "    sys.exit('built without the ranks')\n")
    env = {**__import__("os").environ, "WORLD_SIZE": "2"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
