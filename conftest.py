"""pytest options, claim parametrization over fixtures, and verdict collection.

Options (all optional):

--claim-fixtures PATH  fixture files or folders (repeatable; default: this repository's fixtures/)
--artifacts DIR   the artifact store (default: $CLAIMS_ARTIFACTS or .artifacts)
--device NAME     auto | cpu | cuda | cuda:N | mps (default: auto)
--seeds N         run every fixture with seeds 0..N-1 instead of the fixture's own seeds
--report DIR      write DIR/verdicts.json, report.md, report.html and figures/ at the end of the run

Each test in ``claims/`` declares ``CLAIM = "<name>"`` in its module and takes the pytest fixture
``fx``; it runs once per fixture file that lists that claim, with the fixture's profile as marker
(``-m smoke``, ``-m full``) and the fixture's name as test id. Full fixtures run only when asked
for with ``-m full``; without a marker expression they are skipped with that reason.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
VERDICTS_KEY = pytest.StashKey[list]()
STARTED_KEY = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "paper claims about fine-tuning")
    group.addoption("--claim-fixtures", action="append", default=None, metavar="PATH",
                    help="fixture file or folder (repeatable; default: fixtures/)")
    group.addoption("--artifacts", default=os.environ.get("CLAIMS_ARTIFACTS", ".artifacts"),
                    metavar="DIR", help="artifact store folder (default: $CLAIMS_ARTIFACTS or .artifacts)")
    group.addoption("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    group.addoption("--seeds", type=int, default=None, metavar="N",
                    help="run each fixture with seeds 0..N-1 (default: the fixture's seeds)")
    group.addoption("--report", default=None, metavar="DIR",
                    help="write DIR/verdicts.json, report.md, report.html and figures at the end")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[VERDICTS_KEY] = []
    config.stash[STARTED_KEY] = time.time()


def _fixtures(config: pytest.Config):
    from claims.fixture import load_fixtures

    if not hasattr(config, "_claim_fixtures"):
        paths = config.getoption("--claim-fixtures") or [ROOT / "fixtures"]
        fixtures = load_fixtures(paths)
        n = config.getoption("--seeds")
        if n is not None and n < 1:
            raise pytest.UsageError(f"--seeds must be at least 1, got {n}")
        config._claim_fixtures = [fx.with_seeds(n) for fx in fixtures]
    return config._claim_fixtures


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fx" not in metafunc.fixturenames:
        return
    claim = getattr(metafunc.module, "CLAIM", None)
    if claim is None:
        raise pytest.UsageError(f"{metafunc.module.__name__} takes `fx` but declares no CLAIM")
    params = [
        pytest.param(fx, id=fx.name, marks=[getattr(pytest.mark, fx.profile)])
        for fx in _fixtures(metafunc.config)
        if claim in fx.claims
    ]
    metafunc.parametrize("fx", params or [pytest.param(None, marks=pytest.mark.skip(
        reason=f"no fixture declares claim {claim!r}"))])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("markexpr"):
        return
    skip_full = pytest.mark.skip(reason="full profile: paper scale, expects a GPU; select it with -m full")
    for item in items:
        if item.get_closest_marker("full"):
            item.add_marker(skip_full)


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest):
    from harness.build import Harness
    from harness.store import ArtifactStore

    store = ArtifactStore(request.config.getoption("--artifacts"))
    h = Harness(store, device=request.config.getoption("--device"))
    request.config._claims_harness = h
    return h


@pytest.fixture(autouse=True)
def _fixture_prerequisites(request: pytest.FixtureRequest):
    """Skip, with the reason, a fixture whose inputs are not on this machine."""
    fx = request.node.callspec.params.get("fx") if hasattr(request.node, "callspec") else None
    if fx is None:
        return
    if fx.missing_variables:
        pytest.skip(f"fixture {fx.name} needs the environment variable(s) "
                    f"{', '.join(fx.missing_variables)} (see {fx.path})")
    if fx.missing_paths:
        pytest.skip(f"fixture {fx.name}: local data not found at {', '.join(fx.missing_paths)}")
    if fx.needs_hub:
        from harness.errors import HubUnavailable
        from harness.hub import require_hub

        try:
            require_hub(f"fixture {fx.name}")
        except HubUnavailable as exc:
            pytest.skip(str(exc))
    if fx.profile == "full" and request.config.getoption("--device") == "auto":
        import torch

        if not torch.cuda.is_available():
            pytest.skip(f"fixture {fx.name} is full profile and expects a GPU; none found "
                        "(pass --device cpu to run it on the CPU anyway)")


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A hub that goes away mid-run skips the fixture instead of failing the claim."""
    from harness.errors import HubUnavailable

    try:
        return (yield)
    except HubUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def record_verdict(request: pytest.FixtureRequest):
    verdicts = request.config.stash[VERDICTS_KEY]
    fx = request.node.callspec.params.get("fx") if hasattr(request.node, "callspec") else None

    def record(verdict):
        from dataclasses import replace

        verdicts.append(replace(verdict, profile=fx.profile if fx else ""))
        return verdict

    return record


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _git_dirty() -> bool | None:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                             capture_output=True, text=True, timeout=5)
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    report_dir = config.getoption("--report")
    if not report_dir or hasattr(config, "workerinput"):
        return
    from claims.verdict import dump
    from harness.runtime import machine
    from harness.store import environment
    from reports.build import build_report, write_verdicts

    verdicts = config.stash[VERDICTS_KEY]
    h = getattr(config, "_claims_harness", None)
    stats = h.store.stats if h else None
    run = {
        "command": " ".join(["pytest", *config.invocation_params.args]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(config.stash[STARTED_KEY])),
        "wall_time_s": round(time.time() - config.stash[STARTED_KEY], 1),
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "environment": environment() | {"processor": platform.processor()},
        "machine": machine(),
        "device": str(h.device) if h else None,
        "artifacts": str(h.store.root) if h else config.getoption("--artifacts"),
        "cache": ({"hits": len(set(stats.hits)), "built": len(stats.builds),
                   "rebuilt_corrupt": len(stats.rebuilt_corrupt)} if stats else None),
        "cache_artifacts": ({"hits": list(dict.fromkeys(stats.hits)), "built": list(stats.builds)}
                            if stats else None),
        "stage_times_s": {k: round(v, 2) for k, v in (h.stage_times if h else {}).items()},
    }
    path = write_verdicts(dump(verdicts, run), report_dir)  # first, so that nothing is lost
    store = h.store if h else None
    if store is None and Path(config.getoption("--artifacts")).is_dir():
        from harness.store import ArtifactStore

        store = ArtifactStore(config.getoption("--artifacts"))
    report = build_report(path, report_dir, store)
    writer = config.get_terminal_writer()
    missing = [f for f in report.figures if f.error]
    writer.line(f"claims report: {report.files['html']} ({len(verdicts)} verdicts, "
                f"{len(report.figures) - len(missing)} figures"
                + (f", {len(missing)} not drawn" if missing else "") + ")")
