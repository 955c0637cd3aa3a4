"""The README's main job, timed by stage: this tree against a baseline commit, on this machine.

    python -m harness.pipeline.stage_benchmark                      # this tree: cold, then warm
    python -m harness.pipeline.stage_benchmark --baseline 2126fc2   # and a commit before it, cold, first

Each run is ``python -m pytest claims -m smoke --report ...`` in its own fresh artifact store and
its own empty Numba cache (``$NUMBA_CACHE_DIR``: DirectProbe's compiled loops, about 9 s of a first
run; a tree that has run before keeps them beside its sources), as a new user's first run, then this
tree once more on the same store and cache (warm). Per
run: the wall time, the CPU time of the run and everything it started (user + system), and the
run's own ``stage_times_s`` from its ``verdicts.json``; then whether every verdict's conclusion is
the same in both trees (a verdict that only one run has counts as a difference). The baseline runs
from a ``git worktree`` of the commit beside this one (so that the fixtures' relative paths to
``../shared`` resolve the same; removed after), with this environment's packages. Runs go one
after the other, never side by side, so that they share the machine the same way; the figures are
only comparable within one invocation.

The table is printed and written as JSON (``--out``) for the record; ``docs/benchmarks.md`` says which figures
it gave and where.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
STAGES = ("fine-tune", "predict", "encode", "probe", "directprobe", "attribution", "map", "sparse")


def run_main_job(tree: Path, store: Path, report: Path, extra: list[str], numba_cache: Path) -> dict:
    """One run of the main job in ``tree`` (its own code: pytest puts the tree first on the path),
    with Numba's compiled functions cached in ``numba_cache``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # The tree's own claims plugin, not the one this environment's package registered (pytest11):
    # a tree from before claims/plugin.py has it in its conftest.py instead.
    plugin = ["-p", "no:finetune_claims"] + (["-p", "claims.plugin"] if (tree / "claims" / "plugin.py").exists() else [])
    cmd = [sys.executable, "-m", "pytest", "claims", "-m", "smoke", "-q", "-p", "no:cacheprovider", *plugin,
           "--artifacts", str(store), "--report", str(report), *extra]
    print(f"$ (cd {tree} && {' '.join(cmd[2:])})", flush=True)
    env = {**os.environ, "CI": "1", "NUMBA_CACHE_DIR": str(numba_cache)}
    proc = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    print(f"  {wall:.0f} s wall, exit {proc.returncode}: {tail[0]}", flush=True)
    verdicts_file = report / "verdicts.json"
    doc = json.loads(verdicts_file.read_text()) if verdicts_file.exists() else {"run": {}, "verdicts": []}
    return {
        "tree": str(tree),
        "commit": doc["run"].get("git_commit"),
        "exit_status": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "stage_times_s": doc["run"].get("stage_times_s", {}),
        "conclusions": {f"{v['claim']} / {v['fixture']}": v["conclusion"] for v in doc["verdicts"]},
    }


def table(runs: dict[str, dict]) -> str:
    names = list(runs)
    stages = [s for s in STAGES if any(s in r["stage_times_s"] for r in runs.values())]
    stages += sorted({s for r in runs.values() for s in r["stage_times_s"]} - set(stages))
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, get in [("wall (s)", lambda r: r["wall_s"]), ("CPU, user + system (s)", lambda r: r["cpu_s"])] + [
            (f"stage: {s} (s)", lambda r, s=s: r["stage_times_s"].get(s, 0.0)) for s in stages]:
        lines.append(f"| {label} | " + " | ".join(f"{get(runs[n]):.1f}" for n in names) + " |")
    lines.append("| verdicts | " + " | ".join(str(len(runs[n]["conclusions"])) for n in names) + " |")
    return "\n".join(lines)


def compare(base: dict, new: dict) -> list[str]:
    """The verdicts whose conclusion differs, or that only one run has."""
    keys = sorted(set(base["conclusions"]) | set(new["conclusions"]))
    return [f"{k}: {base['conclusions'].get(k, '(absent)')} -> {new['conclusions'].get(k, '(absent)')}"
            for k in keys if base["conclusions"].get(k) != new["conclusions"].get(k)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="a commit to time first, from a git worktree")
    parser.add_argument("--out", type=Path, help="write the runs and the table as JSON here")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm re-run of this tree")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --), e.g. -k pud")
    args = parser.parse_args(argv)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="stage-benchmark-") as tmp:
        work = Path(tmp)
        if args.baseline:  # beside this tree, so that the fixtures' ../shared paths resolve the same
            tree = ROOT.parent / f".stage-benchmark-{os.getpid()}"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                runs[f"baseline {args.baseline} (cold)"] = run_main_job(tree, work / "store-base", work / "report-base",
                                                                        args.pytest_args, work / "numba-base")
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        runs["this tree (cold)"] = run_main_job(ROOT, work / "store", work / "report", args.pytest_args, work / "numba")
        if not args.no_warm:
            runs["this tree (warm)"] = run_main_job(ROOT, work / "store", work / "report-warm", args.pytest_args,
                                                    work / "numba")
    print()
    print(table(runs))
    differ = compare(*[runs[k] for k in runs][:2]) if args.baseline else []
    if args.baseline:
        print("\nconclusions: " + ("the same in both trees" if not differ else "differ:\n  " + "\n  ".join(differ)))
    if args.out:
        args.out.write_text(json.dumps({"runs": runs, "table": table(runs), "conclusions_differ": differ}, indent=1))
    return 0 if all(r["exit_status"] == 0 for r in runs.values()) and not differ else 1


if __name__ == "__main__":
    sys.exit(main())
