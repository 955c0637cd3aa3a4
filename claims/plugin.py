"""The pytest plugin that runs claims: options, claim parametrization over fixtures, and verdict
collection. Registered under the ``pytest11`` entry point (pyproject.toml), so that an installed
copy runs claims from any folder (``pytest --pyargs claims --claim-fixtures my-fixture.toml``).

Options (all optional):

--claim-fixtures PATH  fixture files or folders (repeatable; default: the repository's fixtures/,
                       in a clone)
--artifacts DIR   the artifact store (default: $CLAIMS_ARTIFACTS or .artifacts)
--device NAME     auto | cpu | cuda | cuda:N | mps (default: auto)
--compile         fine-tune through torch.compile (pays on long GPU runs)
--seeds N         run every fixture with seeds 0..N-1 instead of the fixture's own seeds
--report DIR      write DIR/verdicts.json, report.md, report.html and figures/ at the end of the run
--max-examples N  cut every split of every task to at most N examples (a dry run)
--claim NAME      run only this claim (repeatable)
--plan            list what the run would do, with time estimates, and stop

``claims/test_claims.py`` runs every claim of the registry (``claims/registry.py``: the modules
of ``claims/catalog/``) once per fixture file that lists it, with the fixture's profile as marker
(``-m smoke``, ``-m full``) and ``<claim>-<fixture>`` as test id. Full fixtures run only when a marker expression selects them (``-m full``); otherwise they are
skipped with that reason.

Every fixture file is checked when it is collected (``claims/fixture.py``, against the claim specs)
and gets one test, ``claims/test_fixture_files.py::test_fixture_file[<file>]``: a bad file fails
there, once, with the message naming the file, table, key and value, and is left out of the claims
while the other fixtures run.

Every claim x fixture outcome goes to the report: the verdicts, and the claims that raised an error
(with its message) or were skipped (with the reason); at the end of the
run the deciding p-values (one per verdict) are Holm-adjusted together (``with_holm``).

Under pytest-xdist (``-n N``) each worker sends its verdicts, stage times and cache use to the
controller (``workeroutput``), which writes the one report; the artifact store's file locks let
workers share it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path

import pytest

CLAIMS_DIR = Path(__file__).resolve().parent  # the claim modules
ROOT = CLAIMS_DIR.parent  # in a clone, the repository (its fixtures/ and git history)
VERDICTS_KEY = pytest.StashKey[list]()
STARTED_KEY = pytest.StashKey[float]()
WORKER_PARTS_KEY = pytest.StashKey[list]()  # what pytest-xdist workers sent back
RECORDED_KEY = pytest.StashKey[bool]()  # on a test item: its row (a verdict or an outcome) is recorded
JUDGED_KEY = pytest.StashKey[object]()  # on a test item: the verdict its claim reached
FIXTURES_KEY = pytest.StashKey[tuple]()  # (fixtures that loaded, FixtureErrors of those that did not)
PIPELINE_KEY = pytest.StashKey[object]()  # the session's harness.pipeline.build.Harness, once a claim asked for it


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
    group.addoption("--max-examples", type=int, default=None, metavar="N",
                    help="cut every split of every task to at most N examples (stratified): a dry run")
    group.addoption("--claim", action="append", default=None, metavar="NAME",
                    help="run only this claim (repeatable; default: every claim the fixtures list)")
    group.addoption("--plan", action="store_true",
                    help="list what the run would do (fixtures, claims, artifacts cached or to build, "
                         "time estimated on this device) and stop, training nothing")


def _check_folder_option(config: pytest.Config, option: str) -> None:
    """``--report`` and ``--artifacts`` name folders: refuse, before anything runs, a path that is
    a file, a folder that is not writable, or one that cannot be created (its nearest existing
    parent is not a writable folder). Nothing is created here: the store makes its folder when a
    claim first uses it, the report at the end, so a run of the unit tests leaves none behind."""
    value = config.getoption(option)
    if not value:
        return
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise pytest.UsageError(f"{option} {value}: a file is there; {option} takes a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK):
            raise pytest.UsageError(f"{option} {value}: the folder is not writable")
        return
    parent = next(p for p in path.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise pytest.UsageError(f"{option} {value}: cannot create that folder ({parent} is not a writable folder)")


def _only_claims(config: pytest.Config) -> bool:
    """Whether the command names only claim tests (``pytest claims -m smoke``), not the unit tests."""
    paths = [Path(config.invocation_params.dir, a.split("::")[0]).resolve() for a in config.args]
    return bool(paths) and all(CLAIMS_DIR in (p, *p.parents) for p in paths)


MARKERS = ("smoke: offline, CPU, minutes: the tiny fixtures",
           "full: paper scale: expects a GPU and the Hugging Face hub")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:  # a fixture's profile is its test's marker, in any folder
        config.addinivalue_line("markers", marker)
    for option in ("--report", "--artifacts"):
        _check_folder_option(config, option)
    for path in config.getoption("--claim-fixtures") or []:
        if not Path(path).exists():
            raise pytest.UsageError(f"--claim-fixtures {path}: no such fixture file or folder")
    chosen = config.getoption("--claim")
    if chosen:
        from claims.registry import CLAIMS

        unknown = sorted(set(chosen) - set(CLAIMS))
        if unknown:
            raise pytest.UsageError(f"--claim {', '.join(unknown)}: no such claim; known: {', '.join(CLAIMS)}")
    n = config.getoption("--seeds")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--seeds must be at least 1, got {n}")
    cap = config.getoption("--max-examples")
    if cap is not None and cap < 2:
        raise pytest.UsageError(f"--max-examples must be at least 2 (examples per split), got {cap}")
    # A claims run shows what it builds as it goes (the store's log lines: kind, what, time), in a
    # terminal and in CI logs alike, unless the user chose a log level; the unit tests stay quiet.
    if _only_claims(config) and config.getoption("log_cli_level", None) is None and not config.getini("log_cli_level"):
        config.option.log_cli_level = "INFO"
        config.option.log_cli_format = config.getoption("log_cli_format", None) or "%(asctime)s %(message)s"
        config.option.log_cli_date_format = config.getoption("log_cli_date_format", None) or "%H:%M:%S"
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if os.environ.get("PYTEST_XDIST_WORKER") and workers and workers.isdigit():  # pytest -n N: share the CPUs
        from harness.runtime import share_cpus

        share_cpus(int(workers))
    config.stash[VERDICTS_KEY] = []
    config.stash[STARTED_KEY] = time.time()
    config.stash[WORKER_PARTS_KEY] = []


def _fixtures(config: pytest.Config):
    """The fixtures that loaded, and the files that did not (each a FixtureError)."""
    from claims.fixture import load_fixtures
    from harness.errors import ConfigError

    if FIXTURES_KEY not in config.stash:
        paths = config.getoption("--claim-fixtures") or [ROOT / "fixtures"]
        if not Path(paths[0]).exists():  # an installed copy: no repository beside it
            raise pytest.UsageError(f"no fixtures at {paths[0]} (the default outside a clone of the "
                                    "repository): name yours with --claim-fixtures FILE_OR_FOLDER")
        errors: list = []
        try:
            fixtures = load_fixtures(paths, errors)
        except ConfigError as exc:  # a path that does not exist: the command line is wrong
            raise pytest.UsageError(str(exc)) from None
        # A file named on the command line is one the user means to run: inputs it lacks are an
        # error of that file (its own failing test, exit status 1). A file found in a folder (the
        # shipped fixtures, some of which read data beside the repository) is skipped instead.
        from claims.fixture import FixtureError

        named = {Path(p).resolve() for p in config.getoption("--claim-fixtures") or [] if Path(p).is_file()}
        for fx in [fx for fx in fixtures if fx.path.resolve() in named]:
            missing = fx.missing_inputs()
            if missing:
                fixtures.remove(fx)
                errors.append(FixtureError(fx.path, f"{fx.path}: fixture {fx.name}: its inputs are not on "
                                                    f"this machine: {'; '.join(missing)}"))
        n = config.getoption("--seeds")
        config.stash[FIXTURES_KEY] = ([fx.with_seeds(n) for fx in fixtures], errors)
    return config.stash[FIXTURES_KEY][0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixture_file" in metafunc.fixturenames:  # claims/test_fixture_files.py
        fixtures = _fixtures(metafunc.config)
        broken = metafunc.config.stash[FIXTURES_KEY][1]
        metafunc.parametrize("fixture_file", [
            *(pytest.param(fx, id=fx.path.stem, marks=[getattr(pytest.mark, fx.profile)]) for fx in fixtures),
            # a broken file's profile is unknown: it shows in every run, whatever -m selects
            *(pytest.param(e, id=e.path.stem, marks=[pytest.mark.smoke, pytest.mark.full]) for e in broken),
        ])
        return
    if "fx" not in metafunc.fixturenames:
        return
    if "claim" not in metafunc.fixturenames:
        raise pytest.UsageError(f"{metafunc.module.__name__}: a test that takes `fx` also takes `claim` (claims are "
                                "modules of claims/catalog/, run by claims/test_claims.py)")
    from claims.registry import REGISTRY

    fixtures, params = _fixtures(metafunc.config), []
    for name, claim in REGISTRY.items():
        params += [pytest.param(claim, fx, id=f"{name}-{fx.name}", marks=[getattr(pytest.mark, fx.profile)])
                   for fx in fixtures if name in fx.claims] or [
            pytest.param(claim, None, id=f"{name}-None",
                         marks=pytest.mark.skip(reason=f"no fixture declares claim {name!r}"))]
    metafunc.parametrize(("claim", "fx"), params)


def claim_name(item: pytest.Item) -> str:
    """The claim a test item judges (its name, where it judges none)."""
    claim = getattr(getattr(item, "callspec", None), "params", {}).get("claim")
    return claim.name if claim is not None else item.name


def selects_full(markexpr: str) -> bool:
    """Whether a marker expression asks for the full profile (``-m full``, ``-m "smoke or full"``),
    as opposed to merely not excluding it (``-m "not slow"``)."""
    return re.search(r"(?<!not )\bfull\b", " ".join(markexpr.split())) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.getoption("--claim")
    if chosen:  # --claim NAME: the other claims' tests are deselected (the fixture files' stay)
        def other(item: pytest.Item) -> bool:
            params = getattr(getattr(item, "callspec", None), "params", {})
            return ("fx" in params or "claim" in params) and claim_name(item) not in chosen

        config.hook.pytest_deselected(items=[item for item in items if other(item)])
        items[:] = [item for item in items if not other(item)]
    if selects_full(config.getoption("markexpr") or ""):
        return
    skip_full = pytest.mark.skip(reason="full profile: paper scale, expects a GPU; select it with -m full")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("full") and not item.get_closest_marker("smoke") \
                and params.get("fx", params.get("fixture_file")) is not None:
            item.add_marker(skip_full)


def pytest_collection_finish(session: pytest.Session) -> None:
    """``--plan``: the fixtures and claims the run selected, the artifacts they start from (cached
    or to build) and the time to build them, measured on this device; then stop."""
    config = session.config
    if not config.getoption("--plan"):
        return
    from claims.plan import render
    from harness.pipeline.build import Harness
    from harness.pipeline.plan import Throughput
    from harness.store import ArtifactStore

    selected: dict = {}  # fixture name -> (fixture, [claims])
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        fx = params.get("fx")
        if fx is not None and not item.get_closest_marker("skip"):
            selected.setdefault(fx.name, (fx, []))[1].append(claim_name(item))
    h = Harness(ArtifactStore(config.getoption("--artifacts")), device=config.getoption("--device"),
                max_examples=config.getoption("--max-examples"))
    text = render(h, selected, Throughput(h.device)) if selected else "Plan: no claim of any fixture is selected."
    config.get_terminal_writer().line("\n" + text)
    pytest.exit("plan only (--plan): nothing was run", returncode=0)


@pytest.fixture(scope="session")
def pipeline(request: pytest.FixtureRequest):
    """The session's :class:`harness.pipeline.build.Harness`: every artifact a claim reads, built or found."""
    from harness.pipeline.build import Harness
    from harness.store import ArtifactStore

    store = ArtifactStore(request.config.getoption("--artifacts"))
    h = Harness(store, device=request.config.getoption("--device"), max_examples=request.config.getoption("--max-examples"),
                compile=request.config.getoption("--compile"))
    request.config.stash[PIPELINE_KEY] = h
    return h


@pytest.fixture(autouse=True)
def _fixture_prerequisites(request: pytest.FixtureRequest):
    """Skip, with the reason, a fixture whose inputs are not on this machine."""
    fx = request.node.callspec.params.get("fx") if hasattr(request.node, "callspec") else None
    if fx is None:
        return
    import logging

    claim = claim_name(request.node)
    logging.getLogger("claims").info("claim %s on fixture %s (seeds %s)", claim, fx.name, ", ".join(map(str, fx.seeds)))
    if fx.missing_variables:
        pytest.skip(f"fixture {fx.name} needs the environment variable(s) "
                    f"{', '.join(fx.missing_variables)} (see {fx.path})")
    missing = fx.missing_inputs(claim)
    if missing:
        pytest.skip(f"fixture {fx.name} ({fx.path}): its inputs are not on this machine: {'; '.join(missing)}")
    if fx.needs_hub:
        from harness.data.hub import require_hub
        from harness.errors import HubUnavailable

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
    """A hub that goes away mid-run skips the fixture instead of failing the claim (claims only:
    a unit test that meets HubUnavailable fails as any test would)."""
    from harness.errors import HubUnavailable

    try:
        return (yield)
    except HubUnavailable as exc:
        params = getattr(getattr(pyfuncitem, "callspec", None), "params", {})
        if params.get("fx") is None:  # not a claim test
            raise
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Record a claim x fixture that ended without a verdict (an error, a skip), so that the
    report shows it; and under torchrun / accelerate launch, once the ranks are out of step
    (harness.distributed.agree), stop the session (every later collective would hang) so that
    rank 0 writes the report."""
    report = yield
    if call.excinfo is not None and call.excinfo.typename == "RanksDiverged":
        item.session.shouldstop = f"the ranks of this run are out of step: {call.excinfo.value}"
    _record_outcome(item, call, report)
    verdict = item.stash.get(JUDGED_KEY, None)
    if verdict is not None:  # a verdict was reached (its expectation may have failed)
        report.user_properties.append(("claims_judged", True))
        if report.failed and call.excinfo is not None and call.excinfo.errisinstance(AssertionError):
            report.longrepr = verdict.text()  # what was expected and what was found, not a traceback
    from harness.errors import HarnessError

    if report.failed and call.excinfo is not None and isinstance(call.excinfo.value, HarnessError):
        # the harness's own errors say what is wrong and what to do: the message, not a traceback
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
    return report


def _record_outcome(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> None:
    from claims.verdict import outcome_row
    from reports.schema import FIXTURE_FILE

    params = getattr(getattr(item, "callspec", None), "params", {})
    fx, broken = params.get("fx"), params.get("fixture_file")
    if fx is None and broken is None or item.stash.get(RECORDED_KEY, False):
        return
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        status, message = "skipped", reason.removeprefix("Skipped: ")
    elif report.failed:
        status = "error"
        message = call.excinfo.exconly() if call.excinfo is not None else str(report.longrepr)
    else:
        return
    if fx is not None:
        from claims.registry import CLAIMS

        claim = claim_name(item)
        spec = CLAIMS.get(claim)
        params_ = fx.claims.get(claim, {})
        statement = spec.statement(params_) if spec is not None and params_ else {}
        row = outcome_row(claim, fx.name, status, message, profile=fx.profile, seeds=fx.seeds,
                          statement=statement)
    elif hasattr(broken, "message"):  # a fixture file that did not load
        row = outcome_row(FIXTURE_FILE, broken.name, status, message)
    else:  # a fixture file that loaded: its check passed or was skipped; nothing to report
        return
    item.config.stash[VERDICTS_KEY].append(row)
    item.stash[RECORDED_KEY] = True


@pytest.fixture
def record_verdict(request: pytest.FixtureRequest):
    verdicts = request.config.stash[VERDICTS_KEY]
    fx = request.node.callspec.params.get("fx") if hasattr(request.node, "callspec") else None

    def record(verdict):
        from dataclasses import replace

        verdicts.append(replace(verdict, profile=fx.profile if fx else ""))
        request.node.stash[RECORDED_KEY] = True
        request.node.stash[JUDGED_KEY] = verdict
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
    h = config.stash.get(PIPELINE_KEY, None)
    stats = h.store.stats if h else None
    return {
        "verdicts": [v.to_dict() for v in config.stash[VERDICTS_KEY]],
        "stage_times_s": dict(h.stage_times) if h else {},
        "resolved": dict(h.resolved) if h else {},
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
    verdicts = with_holm(sorted((Verdict.from_dict(v) for p in parts for v in p["verdicts"]),
                                key=lambda v: (v.claim, v.fixture, v.profile)))
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
        "exit_status": int(exitstatus),
        # the commit each hub model and data set resolved to, whatever revision the fixtures named
        "resolved_revisions": {k: v for p in parts for k, v in p.get("resolved", {}).items()},
        "max_examples": config.getoption("--max-examples"),
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
    from reports.content import banner

    writer.line()
    writer.line(f"claims report: {report.files['html']}: {banner(report.doc['verdicts'], run)[0]} "
                f"({len(report.figures) - len(missing)} figures"
                + (f", {len(missing)} not drawn" if missing else "") + ")")


def _not_judged(stats: dict[str, list]) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """From pytest's reports of a run: ([(outcome, whole reason, [claim ids])] for every claim x
    fixture skipped or in error, same reasons together; [claims no selected fixture declares])."""
    groups: dict[tuple[str, str], list[str]] = {}
    undeclared = []
    for outcome in ("error", "failed", "skipped"):
        for rep in stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if not nodeid.startswith("claims/") or ("claims_judged", True) in rep.user_properties:
                continue
            test = nodeid.rsplit("::", 1)[-1]
            if test.endswith("-None]"):  # test_claim[<claim>-None]
                undeclared.append(test.split("[", 1)[1].removesuffix("-None]"))
                continue
            if rep.skipped and isinstance(rep.longrepr, tuple):
                reason = rep.longrepr[2].removeprefix("Skipped: ")
            else:
                crash = getattr(rep.longrepr, "reprcrash", None)
                reason = crash.message if crash is not None else str(rep.longrepr).strip().splitlines()[-1]
            groups.setdefault(("skipped" if rep.skipped else "error", reason), []).append(test)
    return [(outcome, reason, tests) for (outcome, reason), tests in groups.items()], undeclared


def _fixture_of(test: str) -> str:
    """The fixture of a claim test's name, test_claim[<claim>-<fixture>] (a claim's name, a module's,
    has no hyphen)."""
    return test.split("[", 1)[-1].removesuffix("]").split("-", 1)[-1]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """A claims run ends with every claim x fixture it could not judge and the whole reason (no
    ``-rs`` needed, nothing cut), so a mistyped path or a missing variable is never hidden."""
    groups, undeclared = _not_judged(terminalreporter.stats)
    if not groups and not undeclared:
        return
    terminalreporter.section("claims not judged")
    for outcome, reason, tests in groups:
        if len(tests) > 6:  # many claims of the same fixtures (the full profile, say): the fixtures
            fixtures = sorted({_fixture_of(t) for t in tests})
            what = f"{len(tests)} claims of {len(fixtures)} fixtures ({', '.join(fixtures)})"
        else:
            what = ", ".join(tests)
        terminalreporter.line(f"{outcome.upper()} {what}:", red=outcome == "error", yellow=outcome != "error")
        terminalreporter.line(f"    {reason}")
    if undeclared:
        terminalreporter.line(f"no selected fixture declares: {', '.join(sorted(undeclared))}")


def with_holm(verdicts: list) -> list:
    """The verdicts with Holm's adjustment over the run: one p per verdict, the one that decides
    whether it reproduces the paper (``Verdict.deciding``: the largest over its seeds and layers),
    the family being every verdict of the run that has one. Each such verdict gets ``p_holm``,
    ``family`` and ``holds_under_holm`` in ``deciding`` and the adjusted p under its test's key in
    ``pvalues_holm``; a reproduced verdict whose adjusted p reaches its alpha is marked (its
    conclusion is kept: the report shows both). The family depends on what the run selected
    (``-k``, ``-m``): its size is shown with every adjusted p."""
    from dataclasses import replace

    from harness.analysis.stats import holm

    members = [i for i, v in enumerate(verdicts) if v.deciding]
    if not members:
        return verdicts
    adjusted = holm([verdicts[i].deciding["p"] for i in members])
    out = list(verdicts)
    for i, p in zip(members, adjusted, strict=True):
        v = verdicts[i]
        d = {**v.deciding, "family": len(members), "p_holm": float(p),
             "holds_under_holm": bool(v.conclusion != "reproduced" or p < v.deciding["alpha"])}
        out[i] = replace(v, deciding=d, pvalues_holm={v.deciding["test"]: float(p)})
    return out
