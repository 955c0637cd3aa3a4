"""pytest options, claim parametrization over fixtures, and verdict collection.

Options (all optional):

--claim-fixtures PATH  fixture files or folders (repeatable; default: this repository's fixtures/)
--artifacts DIR   the artifact store (default: $CLAIMS_ARTIFACTS or .artifacts)
--device NAME     auto | cpu | cuda | cuda:N | mps (default: auto)
--compile         fine-tune through torch.compile (pays on long GPU runs)
--seeds N         run every fixture with seeds 0..N-1 instead of the fixture's own seeds
--report DIR      write DIR/verdicts.json, report.md, report.html and figures/ at the end of the run

Each test in ``claims/`` declares ``CLAIM = "<name>"`` in its module and takes the pytest fixture
``fx``; it runs once per fixture file that lists that claim, with the fixture's profile as marker
(``-m smoke``, ``-m full``) and the fixture's name as test id. Full fixtures run only when asked
for with ``-m full``; without a marker expression they are skipped with that reason.

Under pytest-xdist (``-n N``) each worker sends its verdicts, stage times and cache use to the
controller (``workeroutput``), which writes the one report; the artifact store's file locks let
workers share it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
VERDICTS_KEY = pytest.StashKey[list]()
STARTED_KEY = pytest.StashKey[float]()
WORKER_PARTS_KEY = pytest.StashKey[list]()  # what pytest-xdist workers sent back


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "paper claims about fine-tuning")
    group.addoption("--claim-fixtures", action="append", default=None, metavar="PATH",
                    help="fixture file or folder (repeatable; default: fixtures/)")
    group.addoption("--artifacts", default=os.environ.get("CLAIMS_ARTIFACTS", ".artifacts"),
                    metavar="DIR", help="artifact store folder (default: $CLAIMS_ARTIFACTS or .artifacts)")
    group.addoption("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    group.addoption("--compile", action="store_true",
                    help="fine-tune through torch.compile (pays on long GPU runs; same artifacts' keys)")
    group.addoption("--seeds", type=int, default=None, metavar="N",
                    help="run each fixture with seeds 0..N-1 (default: the fixture's seeds)")
    group.addoption("--report", default=None, metavar="DIR",
                    help="write DIR/verdicts.json, report.md, report.html and figures at the end")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[VERDICTS_KEY] = []
    config.stash[STARTED_KEY] = time.time()
    config.stash[WORKER_PARTS_KEY] = []


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
    h = Harness(store, device=request.config.getoption("--device"),
                compile=request.config.getoption("--compile"))
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """torchrun / accelerate launch: once the ranks are out of step (harness.distributed.agree),
    every later collective would hang, so the session stops here and rank 0 writes the report."""
    report = yield
    if call.excinfo is not None and call.excinfo.typename == "RanksDiverged":
        item.session.shouldstop = f"the ranks of this run are out of step: {call.excinfo.value}"
    return report


@pytest.fixture
def record_verdict(request: pytest.FixtureRequest):
    verdicts = request.config.stash[VERDICTS_KEY]
    fx = request.node.callspec.params.get("fx") if hasattr(request.node, "callspec") else None

    def record(verdict):
        from dataclasses import replace

        verdicts.append(replace(verdict, profile=fx.profile if fx else ""))
        return verdict

    return record


def _git(*args: str) -> str | None:
    """Output of a git command in this repository, or None where git or the repository is absent."""
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_commit() -> str | None:
    return _git("rev-parse", "HEAD") or None


def _git_dirty() -> bool | None:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _local_part(config: pytest.Config) -> dict:
    """This process's verdicts, stage times and cache use, as JSON-able data."""
    h = getattr(config, "_claims_harness", None)
    stats = h.store.stats if h else None
    return {
        "verdicts": [v.to_dict() for v in config.stash[VERDICTS_KEY]],
        "stage_times_s": dict(h.stage_times) if h else {},
        "hits": list(stats.hits) if stats else [],
        "built": list(stats.builds) if stats else [],
        "rebuilt_corrupt": list(stats.rebuilt_corrupt) if stats else [],
        "device": str(h.device) if h else None,
        "artifacts": str(h.store.root) if h else None,
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist: collect a worker's part (sent in its ``workeroutput``) on the controller."""
    part = getattr(node, "workeroutput", {}).get("claims_part")
    if part:
        node.config.stash[WORKER_PARTS_KEY].append(json.loads(part))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    report_dir = config.getoption("--report")
    if not report_dir:
        return
    from harness import distributed

    if not distributed.is_main():  # torchrun / accelerate launch: rank 0 writes the one report
        return
    if hasattr(config, "workerinput"):  # an xdist worker: hand the part to the controller
        config.workeroutput["claims_part"] = json.dumps(
            _local_part(config), default=lambda o: o.item() if hasattr(o, "item") else str(o))
        return
    from claims.verdict import Verdict, dump
    from harness.runtime import machine
    from harness.store import environment
    from reports.build import build_report, write_verdicts

    parts = [_local_part(config), *config.stash[WORKER_PARTS_KEY]]
    verdicts = sorted((Verdict.from_dict(v) for p in parts for v in p["verdicts"]),
                      key=lambda v: (v.claim, v.fixture, v.profile))
    stage_times: dict[str, float] = {}
    for p in parts:
        for k, v in p["stage_times_s"].items():
            stage_times[k] = stage_times.get(k, 0.0) + v
    hits = list(dict.fromkeys(a for p in parts for a in p["hits"]))
    built = [a for p in parts for a in p["built"]]
    used = [p for p in parts if p["device"]]
    run = {
        "command": " ".join(["pytest", *config.invocation_params.args]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(config.stash[STARTED_KEY])),
        "wall_time_s": round(time.time() - config.stash[STARTED_KEY], 1),
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "environment": environment() | {"processor": platform.processor()},
        "machine": machine(),
        "device": used[0]["device"] if used else None,
        "workers": len(parts) - 1,
        "artifacts": used[0]["artifacts"] if used else config.getoption("--artifacts"),
        "cache": {"hits": len(hits), "built": len(built),
                  "rebuilt_corrupt": sum(len(p["rebuilt_corrupt"]) for p in parts)},
        "cache_artifacts": {"hits": hits, "built": built},
        "stage_times_s": {k: round(v, 2) for k, v in stage_times.items()},
    }
    path = write_verdicts(dump(verdicts, run), report_dir)  # first, so that nothing is lost
    store = None
    artifacts = Path(run["artifacts"])
    if artifacts.is_dir():
        from harness.store import ArtifactStore

        store = ArtifactStore(artifacts)
    report = build_report(path, report_dir, store)
    writer = config.get_terminal_writer()
    missing = [f for f in report.figures if f.error]
    writer.line(f"claims report: {report.files['html']} ({len(verdicts)} verdicts, "
                f"{len(report.figures) - len(missing)} figures"
                + (f", {len(missing)} not drawn" if missing else "") + ")")
